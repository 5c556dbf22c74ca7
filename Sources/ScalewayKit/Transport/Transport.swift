import Foundation
import Logging

/// Sends HTTP requests through libcurl.
///
/// ## Threading model
/// libcurl's easy interface blocks, so no curl call ever runs on Swift's
/// cooperative thread pool: every transfer gets a dedicated thread, started
/// with `Thread.detachNewThread`, that performs the request and resumes the
/// awaiting task through a checked continuation. The body sink and body
/// reader run on that thread too, so they may block (backpressure) without
/// starving other tasks.
///
/// ## Connection reuse
/// Easy handles are pooled per origin (``CurlHandlePool``); a handle keeps its
/// connection open between requests, so sequential calls to one host reuse a
/// warm TCP+TLS connection.
///
/// ## Cancellation
/// Cancelling the awaiting task sets an atomic flag that the progress
/// callback (called by libcurl at least once per second, more often while
/// data flows) and the data callbacks check; the transfer then aborts and
/// ``send(_:sink:)`` throws a ``TransportError`` of kind `.cancelled`.
///
/// ## Security
/// Peer and host verification are always on (see ``TLSConfiguration``).
/// Requests and responses are logged at `debug` (one line) and `trace`
/// (headers) with `Authorization` and `X-Auth-Token` redacted; bodies are
/// never logged.
public final class Transport: Sendable {
    public let configuration: TransportConfiguration
    let pool: CurlHandlePool

    static let logger = Logger(label: "http")
    static let fallbackSystemCAPath: String? = FileManager.default.fileExists(atPath: "/etc/ssl/certs") ? "/etc/ssl/certs" : nil

    /// Creates a transport. Throws when the extra CA file cannot be read.
    public init(configuration: TransportConfiguration = TransportConfiguration()) throws {
        if let path = configuration.tls.extraCAFile {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw TransportError(kind: .configuration,
                    message: "the CA file \(path) does not exist or is not readable; give the path of a PEM certificate bundle",
                    requestMayHaveBeenSent: false)
            }
        }
        self.configuration = configuration
        self.pool = CurlHandlePool(maxIdlePerHost: configuration.maxIdleHandlesPerHost)
        CurlGlobal.ensureInitialized()
    }

    /// Sends `request` and returns the response.
    ///
    /// - Parameters:
    ///   - request: a fully built (and, for S3, signed) request.
    ///   - sink: where the body goes when ``ResponseSink/accepts`` says so;
    ///     otherwise the body is collected into ``HTTPResponse/body`` (up to
    ///     ``TransportConfiguration/maxCollectedBodyBytes``).
    /// - Returns: the response whatever its status; HTTP errors are the caller's to interpret.
    /// - Throws: ``TransportError`` when no complete response was received, or
    ///   the error thrown by the sink or body reader.
    public func send(_ request: HTTPRequest, sink: ResponseSink? = nil) async throws -> HTTPResponse {
        let target = try RequestTarget(url: request.url)
        let transfer = CurlTransfer(request: request, target: target, sink: sink,
                                    configuration: configuration, pool: pool)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<HTTPResponse, any Error>) in
                Thread.detachNewThread {
                    continuation.resume(with: transfer.run())
                }
            }
        } onCancel: {
            transfer.cancel()
        }
    }

    /// Idle pooled handles for `origin` (`scheme://host:port`), for tests of connection reuse.
    func idleHandleCount(origin: String) -> Int { pool.idleCount(origin: origin) }
}
