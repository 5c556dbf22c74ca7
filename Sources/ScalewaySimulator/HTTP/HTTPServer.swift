import CMicroHTTPD
import Foundation
import Logging
import Synchronization

/// The simulator's HTTP(S) server: GNU libmicrohttpd with a pool of epoll
/// threads on 127.0.0.1, keep-alive, uploads streamed to disk, file bodies
/// sent with sendfile, optional TLS through GnuTLS, and fault injection.
///
/// Requests are parsed by libmicrohttpd; the server keeps the raw request
/// target (SigV4 signs it verbatim), collects the body, applies the
/// transport faults of its ``FaultInjector`` and runs the ``HTTPHandler`` on
/// dedicated threads while the connection is suspended, so a slow handler
/// or a stall never blocks other connections.
///
/// ```swift
/// let server = try HTTPServer(
///     configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: state + "/tmp"),
///     handler: s3Service, faults: faults)
/// print(server.baseURL) // http://127.0.0.1:41234
/// server.stop()
/// ```
public final class HTTPServer: Sendable {
    /// libmicrohttpd's daemon handle. `@unchecked Sendable` invariant: only
    /// read under ``HTTPServer/daemon``'s lock, and `MHD_stop_daemon` is
    /// called once, after taking it out.
    private struct DaemonHandle: @unchecked Sendable { let pointer: OpaquePointer }

    public let configuration: HTTPServerConfiguration
    /// The bound TCP port (resolved when the configuration asked for 0).
    public let port: Int
    private let core: ServerCore
    private let daemon: Mutex<DaemonHandle?>

    /// Starts listening on 127.0.0.1.
    ///
    /// - Parameters:
    ///   - configuration: port, TLS material, thread counts, upload directory.
    ///   - handler: answers every request (thread-safe, may block).
    ///   - faults: the scripted faults to apply (shared across servers).
    /// - Throws: ``HTTPServerError`` when the upload directory cannot be
    ///   created or libmicrohttpd cannot start (port in use, bad certificate).
    public init(configuration: HTTPServerConfiguration, handler: any HTTPHandler, faults: FaultInjector? = nil) throws {
        do {
            try FileManager.default.createDirectory(atPath: configuration.uploadDirectory,
                                                    withIntermediateDirectories: true)
        } catch {
            throw HTTPServerError(.stateDirectory, "cannot create the upload directory \(configuration.uploadDirectory)",
                                  underlying: error)
        }
        let core = ServerCore(configuration: configuration, handler: handler, faults: faults)
        var flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue
        if configuration.tls != nil { flags |= MHD_USE_TLS.rawValue }
        if configuration.libraryErrorLog { flags |= MHD_USE_ERROR_LOG.rawValue }
        if configuration.tls != nil && MHD_is_feature_supported(MHD_FEATURE.FEATURE_TLS) != .YES {
            core.pool.shutdown()
            throw HTTPServerError(.startFailed, "this libmicrohttpd was built without TLS support")
        }
        let coreRef = Unmanaged.passUnretained(core).toOpaque()
        let started: OpaquePointer? = withOptionalCString(configuration.tls?.privateKeyPEM) { key in
            withOptionalCString(configuration.tls?.certificatePEM) { cert in
                var c = cmhd_daemon_config()
                c.flags = flags
                c.port = configuration.port
                c.loopback_only = 1
                c.thread_pool_size = UInt32(max(1, configuration.pollingThreads))
                c.connection_timeout = UInt32(max(0, configuration.connectionTimeout))
                c.connection_memory_limit = max(0, configuration.connectionMemoryLimit)
                c.https_mem_key = key
                c.https_mem_cert = cert
                c.access_handler = accessHandlerCallback
                c.access_handler_cls = coreRef
                c.completed = requestCompletedCallback
                c.uri_log = uriLogCallback
                c.notify_connection = UncorkedSockets.notify
                return cmhd_start_daemon(&c)
            }
        }
        guard let started else {
            let code = errno
            core.pool.shutdown()
            throw HTTPServerError(.startFailed, "libmicrohttpd could not listen on 127.0.0.1:\(configuration.port)"
                                  + " (errno \(code)); pick another port or check the TLS material")
        }
        self.configuration = configuration
        self.core = core
        self.port = Int(cmhd_daemon_bound_port(started))
        self.daemon = Mutex(DaemonHandle(pointer: started))
        Logger(label: "sim.http").debug("\(configuration.service) listening on \(scheme)://127.0.0.1:\(port)")
    }

    deinit { stop() }

    /// `https` when serving TLS, else `http`.
    public var scheme: String { configuration.tls == nil ? "http" : "https" }

    /// `http(s)://127.0.0.1:PORT`, without a trailing slash.
    public var baseURL: String { "\(scheme)://127.0.0.1:\(port)" }

    /// The CA file clients must trust (HTTPS only).
    public var caFile: String? { configuration.tls?.caFile }

    /// Whether the server still listens.
    public var isRunning: Bool { daemon.withLock { $0 != nil } }

    /// Stops listening: ends injected stalls, waits for running handlers,
    /// closes every connection. Idempotent.
    public func stop() {
        guard let handle = daemon.withLock({ handle -> DaemonHandle? in
            let current = handle
            handle = nil
            return current
        }) else { return }
        core.drain()
        MHD_stop_daemon(handle.pointer)
        core.pool.shutdown()
    }
}

private func withOptionalCString<R>(_ text: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let text else { return body(nil) }
    return text.withCString { body($0) }
}
