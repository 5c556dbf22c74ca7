import JSONRPC
import Logging
import Synchronization

/// The Plakar method layer: `open`, `ping`, `list`, `read`, `write`, `close`
/// on top of the JSON-RPC engine, with the session's lifecycle.
///
/// Lifecycle (see protocol/README.md):
/// ```
/// not_open --open--> importer | exporter --close--> closed
///     ^                  |
///     +-- open failed ---+
/// ```
/// `list` and `read` need an importer session, `write` an exporter session,
/// `ping` either. `close` ends the session (idempotent); a plugin process
/// serves one session. Errors name the state and the call to make first.
///
/// Ordering: `open` and `close` are barriers; `ping`, `list` and `read` run
/// concurrently, except that a `read` arriving while `list` runs waits for
/// the listing (reading a path before the listing that defines it is
/// meaningless, and a piped session must still get its data); `write` chunks run one at a time in
/// arrival order.
public final class PluginSession: Sendable {
    enum Phase: Sendable {
        case notOpen
        case importer(any Importer)
        case exporter(any Exporter)
        case closed(summary: JSONValue)

        var name: String {
            switch self {
            case .notOpen: "not_open"
            case .importer: "importer"
            case .exporter: "exporter"
            case .closed: "closed"
            }
        }
    }

    /// The file being written, between its first chunk and its `eof`.
    struct WriteCursor: Sendable {
        var path: String
        var next: Int64
        /// Set when a chunk of this file failed: the file's outcome.
        var failure: ResponseError?
    }

    struct State: Sendable {
        var phase: Phase = .notOpen
        var listed = false
        var cursor: WriteCursor?
    }

    private let registry: ConnectorRegistry
    private let notifier: any Notifier
    private let state = Mutex(State())
    private let logger = Logger(label: "plugin")

    public init(registry: ConnectorRegistry, notifier: any Notifier) {
        self.registry = registry
        self.notifier = notifier
    }

    /// The methods of this session for a ``JSONRPCConnection``.
    public func methodTable() -> MethodTable {
        var table = MethodTable()
        table.register("open", order: .barrier) { [self] in try await self.open($0) }
        table.register("ping") { [self] in try await self.ping($0) }
        table.register("list", order: .serial(lane: "list")) { [self] in try await self.list($0) }
        table.register("read", order: .after(lane: "list")) { [self] in try await self.read($0) }
        table.register("write", order: .serial(lane: "write")) { [self] in try await self.write($0) }
        table.register("close", order: .barrier) { [self] in try await self.close($0) }
        return table
    }

    /// The JSON-RPC engine configuration that goes with this layer: plugin
    /// errors mapped to their codes, the `cancelled` kind for cancellations,
    /// the documented maximum message size.
    public static func connectionConfiguration() -> JSONRPCConnection.Configuration {
        var configuration = JSONRPCConnection.Configuration()
        configuration.maxMessageSize = PluginLimits.maxMessageSize
        configuration.cancelledError = PluginError.cancelledRequest.responseError()
        configuration.errorMapper = { error in responseError(for: error) }
        return configuration
    }

    // MARK: - Methods

    func open(_ request: IncomingRequest) async throws -> MethodResult {
        let p = request.params
        try p.requireObject()
        try p.refuseUnknown(["protocol", "mode", "config", "host"])
        let protocolName = try p.string("protocol")
        let mode = try p.string("mode")
        guard mode == "importer" || mode == "exporter" else {
            throw ResponseError.invalidParams(field: "mode", "must be \"importer\" or \"exporter\", got \"\(mode)\"")
        }
        guard let config = try p.stringMap("config") else {
            throw ResponseError.invalidParams(field: "config", expected: "an object of strings", got: nil)
        }
        let host = try hostOptions(p.object("host"))

        let phase = state.withLock { $0.phase }
        switch phase {
        case .notOpen: break
        case .closed:
            throw PluginError.state("the session is closed; a plugin process serves one session",
                                    hint: "start a new plugin process to open another session")
        default:
            throw PluginError.state("the session is already open as \(phase.name)",
                                    hint: "call close, then start a new plugin process for another session")
        }
        let factory = try registry.factory(for: protocolName)
        let context = ConnectorContext(protocolName: protocolName, config: config, host: host, notifier: notifier)
        let result: OpenResult
        let newPhase: Phase
        if mode == "importer" {
            let importer = try factory.makeImporter(context)
            result = try await importer.open()
            newPhase = .importer(importer)
        } else {
            let exporter = try factory.makeExporter(context)
            result = try await exporter.open()
            newPhase = .exporter(exporter)
        }
        state.withLock { $0.phase = newPhase }
        logger.info("opened \(protocolName) \(mode) for \(result.origin)")
        return .value(result.json)
    }

    private func hostOptions(_ p: Params?) throws(ResponseError) -> HostOptions {
        guard let p else { return HostOptions() }
        return HostOptions(
            hostname: try p.optionalString("hostname") ?? "",
            os: try p.optionalString("os") ?? "",
            arch: try p.optionalString("arch") ?? "",
            cwd: try p.optionalString("cwd") ?? "",
            maxConcurrency: Int(try p.optionalInt64("max_concurrency", in: 1...4096) ?? 8),
            excludes: try p.stringArray("excludes") ?? [],
            noXattr: try p.optionalBool("no_xattr") ?? false)
    }

    func ping(_ request: IncomingRequest) async throws -> MethodResult {
        try request.params.requireObject()
        try request.params.refuseUnknown([])
        let details: JSONValue
        switch state.withLock({ $0.phase }) {
        case let .importer(importer): details = try await importer.ping()
        case let .exporter(exporter): details = try await exporter.ping()
        case let phase:
            throw notOpen(phase, method: "ping", needs: "importer or exporter")
        }
        return .value(["ok": true, "details": details])
    }

    func list(_ request: IncomingRequest) async throws -> MethodResult {
        try request.params.requireObject()
        try request.params.refuseUnknown([])
        let importer = try requireImporter("list")
        let alreadyListed = state.withLock { s in
            defer { s.listed = true }
            return s.listed
        }
        if alreadyListed {
            throw PluginError.state("list was already called in this session (the importer has the stream flag: one listing per session)",
                                    hint: "start a new plugin process to list again")
        }
        let records = try await importer.list()
        return .value(["records": .array(records.map(\.json))])
    }

    func read(_ request: IncomingRequest) async throws -> MethodResult {
        let p = request.params
        try p.requireObject()
        try p.refuseUnknown(["path", "offset", "length"])
        let path = try p.string("path")
        let offset = try p.int64("offset", in: 0...Int64.max)
        let length = Int(try p.int64("length", in: 1...Int64(PluginLimits.maxReadLength)))
        let importer = try requireImporter("read")
        // Room for the answer before the bytes exist: a host that does not
        // drain stdout makes reads wait here instead of piling up responses.
        // (The envelope's few dozen bytes are topped up by the engine if a
        // long id makes the line larger.)
        try await request.reserveResponseBytes(Base64.encodedCount(length) + 128)
        let chunk = try await importer.read(path: path, offset: offset, length: length)
        let count = chunk.count
        guard count <= length else {
            throw PluginError(.internal, "the connector returned \(count) bytes for a read of \(length)")
        }
        return .preEncoded(Base64ObjectJSON(key: "data", pieces: chunk.pieces, members: [("eof", .bool(chunk.eof))]))
    }

    func write(_ request: IncomingRequest) async throws -> MethodResult {
        let p = request.params
        try p.requireObject()
        try p.refuseUnknown(["path", "offset", "data", "eof", "fileinfo"])
        let path = try p.string("path")
        let offset = try p.int64("offset", in: 0...Int64.max)
        let eof = try p.optionalBool("eof") ?? false
        let exporter = try requireExporter("write")
        let cursor = state.withLock { $0.cursor }

        // A chunk of a file that already failed: answer that failure again.
        if let cursor, cursor.path == path, let failure = cursor.failure {
            if eof || offset == 0 { state.withLock { $0.cursor = nil } }
            if offset != 0 { throw failure }
        }
        if let cursor, cursor.path != path, cursor.failure == nil {
            throw PluginError.state("file \"\(cursor.path)\" is still being written (next offset \(cursor.next)); files are restored one at a time",
                                    hint: "send the last chunk of \"\(cursor.path)\" with eof true before the first chunk of \"\(path)\"")
        }

        // Decoded by the exporter, into its own buffers (see Exporter.writeChunk(path:offset:data:)).
        let data: Base64Text
        do throws(Base64Text.Invalid) { data = try request.base64Text("data") } catch { throw error.response }
        guard data.decodedCount <= PluginLimits.maxWriteChunk else {
            throw ResponseError.invalidParams(field: "data", "must decode to at most \(PluginLimits.maxWriteChunk) bytes, got \(data.decodedCount)")
        }

        var next: Int64
        if let cursor, cursor.path == path, cursor.failure == nil {
            guard offset == cursor.next else {
                throw ResponseError.invalidParams(field: "offset",
                    "must be \(cursor.next), the next byte of \"\(path)\" (chunks are sent in order), got \(offset)")
            }
            next = cursor.next
        } else {
            guard offset == 0 else {
                throw PluginError.state("no file \"\(path)\" is being written, so a chunk at offset \(offset) has no file to go to",
                                        hint: "start each file with a chunk at offset 0 carrying its fileinfo")
            }
            guard let infoParams = try p.object("fileinfo") else {
                throw ResponseError.invalidParams(field: "fileinfo", expected: "an object (required on the first chunk of a file, offset 0)", got: nil)
            }
            let info = try FileInfo(params: infoParams)
            // A file's first chunk is decoded once here, so that bad base64
            // refuses it before the file begins (later chunks are checked as
            // the exporter decodes them, and leave the file as it was).
            do throws(Base64Text.Invalid) { _ = try data.decoded() } catch { throw error.response }
            state.withLock { $0.cursor = WriteCursor(path: path, next: 0) }
            do {
                try await exporter.beginFile(path: path, info: info)
            } catch {
                throw fail(path, with: error)
            }
            next = 0
        }

        if data.decodedCount > 0 {
            do {
                try Task.checkCancellation()
                try await exporter.writeChunk(path: path, offset: offset, data: data)
            } catch let invalid as Base64Text.Invalid {
                throw invalid.response  // the exporter took nothing: the file goes on
            } catch {
                throw fail(path, with: error)
            }
            next += Int64(data.decodedCount)
            state.withLock { $0.cursor?.next = next }
        }

        guard eof else { return .value(["path": .string(path), "received": .int(next)]) }
        state.withLock { $0.cursor = nil }
        let outcome: FileOutcome
        do {
            outcome = try await exporter.finishFile(path: path)
        } catch {
            throw responseError(for: error, path: path)
        }
        if let error = outcome.error { throw error.responseError(path: path) }
        return .value(["path": .string(path), "size": .int(next), "details": outcome.details])
    }

    /// Marks the file being written as failed; its later chunks get this error.
    @discardableResult
    private func fail(_ path: String, with error: any Error) -> ResponseError {
        let wire = responseError(for: error, path: path)
        state.withLock { s in
            s.cursor = WriteCursor(path: path, next: s.cursor?.next ?? 0, failure: wire)
        }
        return wire
    }

    func close(_ request: IncomingRequest) async throws -> MethodResult {
        try request.params.requireObject()
        try request.params.refuseUnknown([])
        let summary = try await closeConnector(reason: "close")
        return .value(["summary": summary])
    }

    /// Closes the connector once; later calls return the first summary.
    private func closeConnector(reason: String) async throws -> JSONValue {
        let phase = state.withLock { s -> Phase in
            let phase = s.phase
            switch phase {
            case .importer, .exporter: s.phase = .closed(summary: .object([]))
            default: break
            }
            return phase
        }
        if let cursor = state.withLock({ $0.cursor }), cursor.failure == nil {
            logger.warning("closing while \"\(cursor.path)\" was not finished (\(cursor.next) bytes received)")
        }
        let summary: JSONValue
        switch phase {
        case .notOpen: return .object([])
        case let .closed(previous): return previous
        case let .importer(importer): summary = try await importer.close()
        case let .exporter(exporter): summary = try await exporter.close()
        }
        state.withLock { $0.phase = .closed(summary: summary) }
        logger.info("session closed (\(reason))")
        return summary
    }

    /// Cleans up after the connection stopped (end of input, signal, EPIPE):
    /// closes the connector if the host did not.
    public func shutdown(_ reason: ShutdownReason) async {
        do {
            _ = try await closeConnector(reason: reason.description)
        } catch {
            logger.error("cleanup at \(reason) failed: \(error)")
        }
    }

    // MARK: - State checks

    private func requireImporter(_ method: String) throws -> any Importer {
        switch state.withLock({ $0.phase }) {
        case let .importer(importer): return importer
        case .exporter:
            throw PluginError.state("\(method) is an importer method, but this session was opened as an exporter",
                                    hint: "open with mode \"importer\" to back up")
        case let phase: throw notOpen(phase, method: method, needs: "importer")
        }
    }

    private func requireExporter(_ method: String) throws -> any Exporter {
        switch state.withLock({ $0.phase }) {
        case let .exporter(exporter): return exporter
        case .importer:
            throw PluginError.state("\(method) is an exporter method, but this session was opened as an importer",
                                    hint: "open with mode \"exporter\" to restore")
        case let phase: throw notOpen(phase, method: method, needs: "exporter")
        }
    }

    private func notOpen(_ phase: Phase, method: String, needs: String) -> PluginError {
        if case .closed = phase {
            return PluginError.state("\(method) is not allowed: the session is closed",
                                     hint: "start a new plugin process and call open")
        }
        return PluginError.state("\(method) is not allowed before open (session state: \(phase.name))",
                                 hint: "call open with mode \(needs == "importer or exporter" ? "\"importer\" or \"exporter\"" : "\"\(needs)\"") first")
    }
}
