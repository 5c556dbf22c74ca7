import CMicroHTTPD
import Glibc
import Synchronization

/// Keeps `TCP_CORK` off the simulator's connection sockets.
///
/// Why: libmicrohttpd corks a connection for the whole body of a sendfile
/// response (`pre_send_setopt` in its mhd_send.c corks before every chunk
/// but the last, and only the last one uncorks), and the library has no
/// option to leave that out. On Linux loopback a corked sender emits only
/// MSS-sized segments, and the receiving client then spends 2-4 times the
/// kernel time per byte copying them out: a 4 GiB GET of scw-sim with curl
/// to /dev/null, 2 idle cores, ran at 0.87-1.13 GB/s corked (curl 2.9-4.4
/// s of system time) and at 1.2-3.5 GB/s, mostly near 2, uncorked (curl
/// 1.1 s), as fast as a bare Python sendfile loop. A cork buys nothing here:
/// libmicrohttpd already sets TCP_NODELAY and sends headers with MSG_MORE.
///
/// How: the simulator defines `setsockopt` (C symbol), which the dynamic
/// linker binds libmicrohttpd's calls to ahead of libc's. It answers
/// success without corking for the sockets registered here (the server's
/// connections, from libmicrohttpd's connection-started notification until
/// closed) and forwards every other call unchanged to libc
/// (`dlsym(RTLD_NEXT)`). libmicrohttpd then believes the socket corked and
/// its final "uncork" is equally filtered; data is pushed by TCP_NODELAY.
enum UncorkedSockets {
    /// Registered sockets. setsockopt(TCP_CORK) runs a few times per
    /// response, so a lock is cheap enough.
    private static let registered = Mutex<Set<Int32>>([])

    static func register(_ fd: Int32) {
        guard fd >= 0 else { return }
        _ = registered.withLock { $0.insert(fd) }
    }

    static func unregister(_ fd: Int32) {
        _ = registered.withLock { $0.remove(fd) }
    }

    static func contains(_ fd: Int32) -> Bool { registered.withLock { $0.contains(fd) } }

    /// libmicrohttpd's connection notification: registers the socket when a
    /// connection starts and forgets it when it closes (before the
    /// descriptor can be reused).
    static let notify: MHD_NotifyConnectionCallback = { _, connection, _, code in
        guard let connection else { return }
        let fd = cmhd_connection_fd(connection)
        switch code {
        case .CONNECTION_NOTIFY_STARTED: register(fd)
        case .CONNECTION_NOTIFY_CLOSED: unregister(fd)
        default: break
        }
    }
}

private typealias SetsockoptFunction = @convention(c) (Int32, Int32, Int32, UnsafeRawPointer?, socklen_t) -> Int32

/// libc's setsockopt, the next definition after ours (`RTLD_NEXT` is
/// `(void *)-1`, a macro Swift does not import).
private let libcSetsockopt: SetsockoptFunction = {
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: -1), "setsockopt") else {
        fatalError("libc's setsockopt cannot be found")
    }
    return unsafeBitCast(symbol, to: SetsockoptFunction.self)
}()

/// `setsockopt(2)` as seen by every library of the process: TCP_CORK on a
/// socket of ``UncorkedSockets`` is acknowledged and skipped, anything else
/// goes to libc unchanged.
@_cdecl("setsockopt")
public func simulatorSetsockopt(_ fd: Int32, _ level: Int32, _ name: Int32,
                                _ value: UnsafeRawPointer?, _ length: socklen_t) -> Int32 {
    if level == Int32(IPPROTO_TCP), name == TCP_CORK, UncorkedSockets.contains(fd) { return 0 }
    return libcSetsockopt(fd, level, name, value, length)
}
