import COpenSSL

/// The process-wide initialisation of OpenSSL's libcrypto, shared by this
/// module and libcurl.
///
/// OpenSSL 3 registers `OPENSSL_cleanup` with `atexit` on its first full
/// initialisation unless that first call passes `OPENSSL_INIT_NO_ATEXIT`.
/// That cleanup assumes every other thread has stopped: it frees the
/// thread-stop handlers of all threads without taking their lock
/// (`init_thread_deregister(NULL, 1)` in crypto/initthread.c) and never runs
/// them. This process always has threads that used libcrypto while `exit`
/// runs: libcurl transfer threads, ``Digest`` work on detached threads, the
/// simulator's libmicrohttpd threads, and Swift's own pool threads, which
/// the runtime retires whenever it likes and no code can join. A thread that
/// exits during the cleanup frees its handlers a second time (AddressSanitizer:
/// double free in OPENSSL_cleanup, called from `exit`), and the per-thread
/// random generators of threads still alive become unreachable (LeakSanitizer:
/// `EVP_RAND_CTX_new` under `RAND_get0_public`, an amount that depends on how
/// many threads are alive). Without the atexit cleanup the kernel reclaims
/// that memory at exit and nothing is freed under a running thread.
///
/// Every entry point of this module calls ``initialize()`` before any other
/// libcrypto function, and ScalewayKit calls it before `curl_global_init`, so
/// that this is the process's first full OpenSSL initialisation.
public enum OpenSSLLibrary {
    private static let initialized: Bool = copenssl_init_without_atexit_cleanup() == 1

    /// Initialises libcrypto once for the process, without its atexit cleanup.
    ///
    /// Call it before the first use of libcrypto, directly or through a
    /// library that initialises OpenSSL itself (libcurl). Later calls are
    /// cheap no-ops.
    public static func initialize() {
        precondition(initialized, "OPENSSL_init_crypto failed")
    }
}
