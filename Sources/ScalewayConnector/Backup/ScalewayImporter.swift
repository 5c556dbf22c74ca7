import JSONRPC
import PluginProtocol

/// The `scaleway-instance` importer: backs up one instance.
///
/// A thin `Importer` façade over ``BackupRun``, which holds the session's
/// state. See ``BackupTree`` for the files it presents.
public final class ScalewayImporter: Importer {
    private let run: BackupRun

    public init(config: ConnectorConfig, session: any CloudSession, notifier: any Notifier,
                poller: Poller = .standard, timeouts: Timeouts = Timeouts()) {
        run = BackupRun(config: config, session: session, notifier: notifier, poller: poller, timeouts: timeouts)
    }

    public func open() async throws -> OpenResult { try await run.open() }
    public func ping() async throws -> JSONValue { try await run.ping() }
    public func list() async throws -> [ListRecord] { try await run.list() }
    public func read(path: String, offset: Int64, length: Int) async throws -> ReadChunk {
        try await run.read(path: path, offset: offset, length: length)
    }
    public func close() async throws -> JSONValue { try await run.close() }
}
