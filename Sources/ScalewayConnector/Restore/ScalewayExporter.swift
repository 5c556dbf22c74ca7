import JSONRPC
import PluginProtocol

/// The `scaleway-instance` exporter: restores an instance (or volumes).
///
/// A thin `Exporter` façade over ``RestoreRun``.
public final class ScalewayExporter: Exporter {
    private let run: RestoreRun

    public init(config: ConnectorConfig, session: any CloudSession, notifier: any Notifier,
                checkHeader: @escaping ImageHeaderCheck, poller: Poller = .standard, timeouts: Timeouts = Timeouts()) {
        run = RestoreRun(config: config, session: session, notifier: notifier, poller: poller, timeouts: timeouts,
                         checkHeader: checkHeader)
    }

    public func open() async throws -> OpenResult { try await run.open() }
    public func ping() async throws -> JSONValue { try await run.ping() }
    public func beginFile(path: String, info: FileInfo) async throws { try await run.beginFile(path: path, info: info) }
    public func writeChunk(path: String, offset: Int64, bytes: [UInt8]) async throws {
        try await run.writeChunk(path: path, offset: offset, bytes: bytes)
    }
    public func writeChunk(path: String, offset: Int64, data: Base64Text) async throws {
        try await run.writeChunk(path: path, offset: offset, data: data)
    }
    public func finishFile(path: String) async throws -> FileOutcome { try await run.finishFile(path: path) }
    public func close() async throws -> JSONValue { try await run.close() }
}
