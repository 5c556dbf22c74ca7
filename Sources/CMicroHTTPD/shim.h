#ifndef PLAKAR_SCALEWAY_CMICROHTTPD_SHIM_H
#define PLAKAR_SCALEWAY_CMICROHTTPD_SHIM_H
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <stdint.h>
#include <stdarg.h>
#include <string.h>
#include <microhttpd.h>
#include <unistd.h>
#include <sys/syscall.h>

// MHD_start_daemon is variadic (a list of MHD_OPTION_* pairs). The simulator
// calls these fixed-shape wrappers instead. Later helpers in this file extend
// the option set; keep every symbol prefixed cmhd_.

/// The URI log callback: called once per request with the request target
/// exactly as received (before MHD splits and unescapes it).
typedef void *(*cmhd_uri_log_callback)(void *cls, const char *uri, struct MHD_Connection *connection);

/// Everything the simulator passes to MHD_start_daemon, in one fixed shape.
struct cmhd_daemon_config {
    unsigned int flags;             // MHD_USE_* flags
    uint16_t port;                  // 0 = ephemeral
    uint32_t loopback_only;         // non-zero: bind 127.0.0.1
    unsigned int thread_pool_size;  // MHD_OPTION_THREAD_POOL_SIZE (0 = not set)
    unsigned int connection_timeout;// seconds, 0 = none
    size_t connection_memory_limit; // 0 = MHD default
    unsigned int connection_limit;  // 0 = MHD default
    const char *https_mem_key;      // PEM, NULL for plain HTTP
    const char *https_mem_cert;     // PEM, NULL for plain HTTP
    MHD_AccessHandlerCallback access_handler;
    void *access_handler_cls;
    MHD_RequestCompletedCallback completed;
    void *completed_cls;
    cmhd_uri_log_callback uri_log;
    void *uri_log_cls;
    MHD_NotifyConnectionCallback notify_connection; // connection started/closed, NULL = none
    void *notify_connection_cls;
};

/// An unescape callback that leaves the text untouched: the simulator keeps
/// the raw (percent-encoded) path for SigV4 and decodes it itself.
static inline size_t cmhd_keep_raw_unescape(void *cls, struct MHD_Connection *connection, char *s) {
    (void)cls; (void)connection;
    return strlen(s);
}

/// Starts a daemon from `config`; NULL on failure (errno may tell why).
static inline struct MHD_Daemon *cmhd_start_daemon(const struct cmhd_daemon_config *config) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof(address));
    address.sin_family = AF_INET;
    address.sin_port = htons(config->port);
    address.sin_addr.s_addr = config->loopback_only ? htonl(INADDR_LOOPBACK) : htonl(INADDR_ANY);

    struct MHD_OptionItem options[16];
    int n = 0;
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_SOCK_ADDR, 0, &address };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_UNESCAPE_CALLBACK,
                                            (intptr_t)&cmhd_keep_raw_unescape, NULL };
    if (config->thread_pool_size > 0)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)config->thread_pool_size, NULL };
    if (config->connection_timeout > 0)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)config->connection_timeout, NULL };
    if (config->connection_memory_limit > 0)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)config->connection_memory_limit, NULL };
    if (config->connection_limit > 0)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_CONNECTION_LIMIT, (intptr_t)config->connection_limit, NULL };
    if (config->https_mem_key != NULL && config->https_mem_cert != NULL) {
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)config->https_mem_key };
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)config->https_mem_cert };
    }
    if (config->completed != NULL)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)config->completed, config->completed_cls };
    if (config->uri_log != NULL)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)config->uri_log, config->uri_log_cls };
    if (config->notify_connection != NULL)
        options[n++] = (struct MHD_OptionItem){ MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)config->notify_connection,
                                                config->notify_connection_cls };
    options[n++] = (struct MHD_OptionItem){ MHD_OPTION_END, 0, NULL };

    return MHD_start_daemon(config->flags, config->port, NULL, NULL,
                            config->access_handler, config->access_handler_cls,
                            MHD_OPTION_ARRAY, options, MHD_OPTION_END);
}

/// The port the daemon is bound to (resolves port 0), or 0 if unknown.
static inline uint16_t cmhd_daemon_bound_port(struct MHD_Daemon *daemon) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info == NULL ? 0 : info->port;
}

/// The peer address of a connection as dotted text into `buffer`; returns 0 on success.
static inline int cmhd_connection_peer(struct MHD_Connection *connection, char *buffer, size_t size) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (info == NULL || info->client_addr == NULL) return -1;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return inet_ntop(AF_INET, &in->sin_addr, buffer, (socklen_t)size) == NULL ? -1 : 0;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        return inet_ntop(AF_INET6, &in6->sin6_addr, buffer, (socklen_t)size) == NULL ? -1 : 0;
    }
    return -1;
}

/// The socket of a connection, or -1.
static inline int cmhd_connection_fd(struct MHD_Connection *connection) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
    return info == NULL ? -1 : info->connect_fd;
}

/// MHD_CONTENT_READER_END_OF_STREAM / _WITH_ERROR as plain values (macros with casts do not import).
static inline ssize_t cmhd_content_reader_end_of_stream(void) { return MHD_CONTENT_READER_END_OF_STREAM; }
static inline ssize_t cmhd_content_reader_end_with_error(void) { return MHD_CONTENT_READER_END_WITH_ERROR; }
/// MHD_SIZE_UNKNOWN (a macro).
static inline uint64_t cmhd_size_unknown(void) { return MHD_SIZE_UNKNOWN; }

// Linux file calls the simulator's store uses that glibc only declares
// under _GNU_SOURCE (which Swift's Glibc module does not set): made through
// syscall(2), which is variadic, hence these fixed-shape wrappers.

/// fallocate(2): allocates [offset, offset + length) of `fd`; -1 and errno on failure.
static inline int cmhd_fallocate(int fd, int mode, int64_t offset, int64_t length) {
    return (int)syscall(SYS_fallocate, fd, mode, (off_t)offset, (off_t)length);
}

/// copy_file_range(2): copies up to `length` bytes from `in` at `*in_offset`
/// (advanced) to `out` at its file position, in the kernel.
static inline ssize_t cmhd_copy_file_range(int in, int64_t *in_offset, int out, size_t length) {
    loff_t offset = (loff_t)*in_offset;
    ssize_t copied = (ssize_t)syscall(SYS_copy_file_range, in, &offset, out, (loff_t *)0, length, 0u);
    if (copied > 0) *in_offset = (int64_t)offset;
    return copied;
}

#endif
