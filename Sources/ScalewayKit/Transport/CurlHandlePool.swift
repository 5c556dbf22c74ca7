import Synchronization

/// Idle easy handles per origin (`scheme://host:port`), so consecutive
/// requests to the same host reuse a kept-alive connection.
///
/// A handle is checked out for one transfer and checked back in afterwards;
/// at most `maxIdlePerHost` idle handles are kept per origin, the rest are
/// closed. Handles are never shared between concurrent transfers.
final class CurlHandlePool: Sendable {
    private let idle = Mutex<[String: [CurlEasyHandle]]>([:])
    private let maxIdlePerHost: Int

    init(maxIdlePerHost: Int) { self.maxIdlePerHost = maxIdlePerHost }

    func checkout(origin: String) -> CurlEasyHandle {
        idle.withLock { $0[origin]?.popLast() } ?? CurlEasyHandle()
    }

    func checkin(_ handle: CurlEasyHandle, origin: String) {
        let surplus: CurlEasyHandle? = idle.withLock { pool in
            var handles = pool[origin, default: []]
            guard handles.count < maxIdlePerHost else { return handle }
            handles.append(handle)
            pool[origin] = handles
            return nil
        }
        // The surplus handle, if any, is released here, outside the lock:
        // curl_easy_cleanup may close a TLS connection.
        _ = surplus
    }

    /// Number of idle handles kept for `origin` (tests).
    func idleCount(origin: String) -> Int { idle.withLock { $0[origin]?.count ?? 0 } }
}
