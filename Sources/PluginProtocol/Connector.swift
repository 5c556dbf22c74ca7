import JSONRPC

/// What the host tells the plugin at `open`, mirroring Plakar's Init.
///
/// `config` is Plakar's flat map of strings (booleans and numbers arrive as
/// strings; the connector parses them). It always carries `location`,
/// rewritten by the host to `proto://rest`.
public struct ConnectorContext: Sendable {
    /// The protocol name, e.g. `scaleway-instance`.
    public var protocolName: String
    /// The connector's configuration, every value a string.
    public var config: [String: String]
    /// Plakar's host options.
    public var host: HostOptions
    /// Where the connector reports progress and log lines for the host.
    public var notifier: any Notifier

    public init(protocolName: String, config: [String: String], host: HostOptions, notifier: any Notifier) {
        self.protocolName = protocolName
        self.config = config
        self.host = host
        self.notifier = notifier
    }
}

/// Plakar's host options passed at Init.
public struct HostOptions: Sendable, Equatable {
    public var hostname: String
    public var os: String
    public var arch: String
    public var cwd: String
    public var maxConcurrency: Int
    public var excludes: [String]
    public var noXattr: Bool

    public init(hostname: String = "", os: String = "", arch: String = "", cwd: String = "",
                maxConcurrency: Int = 8, excludes: [String] = [], noXattr: Bool = false) {
        self.hostname = hostname
        self.os = os
        self.arch = arch
        self.cwd = cwd
        self.maxConcurrency = maxConcurrency
        self.excludes = excludes
        self.noXattr = noXattr
    }
}

/// The reply to `open`, mirroring Plakar's Init reply.
public struct OpenResult: Sendable, Equatable {
    /// What Plakar shows as the snapshot's host (for an instance, its UUID).
    public var origin: String
    /// The connector type, e.g. `scaleway-instance`.
    public var type: String
    /// The root of the tree, `/`.
    public var root: String
    /// Location flags, e.g. `["stream"]`.
    public var flags: [String]

    public init(origin: String, type: String, root: String = "/", flags: [String] = []) {
        self.origin = origin
        self.type = type
        self.root = root
        self.flags = flags
    }
}

/// Plakar's file info, field for field (kloset `objects.FileInfo`).
public struct FileInfo: Sendable, Equatable {
    /// Go `fs.FileMode` bits.
    public enum Mode {
        public static let directory: UInt32 = 1 << 31
        public static let symlink: UInt32 = 1 << 27
        public static let regularFile: UInt32 = 0
    }

    public var name: String
    /// Size in bytes; -1 when not yet known (the host fixes it after reading).
    public var size: Int64
    /// Go `fs.FileMode` bits: type bits plus the low 9 permission bits.
    public var mode: UInt32
    /// Modification time as RFC 3339 with nanoseconds, e.g. `2026-12-04T10:00:00.123456789Z`.
    public var modTime: String
    public var dev: UInt64
    public var ino: UInt64
    public var uid: UInt64
    public var gid: UInt64
    public var nlink: UInt32
    public var username: String
    public var groupname: String
    public var flags: UInt32

    public init(name: String, size: Int64, mode: UInt32, modTime: String, dev: UInt64 = 0, ino: UInt64 = 0,
                uid: UInt64 = 0, gid: UInt64 = 0, nlink: UInt32 = 1, username: String = "",
                groupname: String = "", flags: UInt32 = 0) {
        self.name = name
        self.size = size
        self.mode = mode
        self.modTime = modTime
        self.dev = dev
        self.ino = ino
        self.uid = uid
        self.gid = gid
        self.nlink = nlink
        self.username = username
        self.groupname = groupname
        self.flags = flags
    }
}

/// One entry of an importer's listing: a file or an error for that path.
public struct ListRecord: Sendable, Equatable {
    /// Absolute path under the root, e.g. `/volumes/0-<uuid>.qcow2`.
    public var pathname: String
    public var fileInfo: FileInfo?
    /// A per-path error (stored by Plakar as a path error).
    public var error: String?

    public init(pathname: String, fileInfo: FileInfo) {
        self.pathname = pathname
        self.fileInfo = fileInfo
        self.error = nil
    }

    public init(pathname: String, error: String) {
        self.pathname = pathname
        self.fileInfo = nil
        self.error = error
    }
}

/// Bytes returned by an importer's `read`.
///
/// The bytes may come as several consecutive pieces, so that an importer
/// holding a file in buffers of its own (pages of a block) answers a read
/// that spans them without joining them into a fresh array first: the
/// answer is base64-encoded straight from the pieces.
public struct ReadChunk: Sendable {
    /// The bytes, in order; their concatenation is the chunk.
    public var pieces: [ArraySlice<UInt8>]
    /// True when the chunk ends at the end of the file.
    public var eof: Bool

    public init(bytes: [UInt8], eof: Bool) {
        self.pieces = bytes.isEmpty ? [] : [bytes[...]]
        self.eof = eof
    }

    public init(pieces: [ArraySlice<UInt8>], eof: Bool) {
        self.pieces = pieces.filter { !$0.isEmpty }
        self.eof = eof
    }

    /// The number of bytes.
    public var count: Int { pieces.reduce(0) { $0 + $1.count } }

    /// The bytes as one array (joined when there are several pieces).
    public var bytes: [UInt8] {
        pieces.count == 1 ? Array(pieces[0]) : Array(pieces.joined())
    }
}

/// A progress report for the host (the `progress` notification).
public struct Progress: Sendable, Equatable {
    /// The operation, e.g. `snapshot`, `export`, `upload`, `import`, `restore`.
    public var operation: String
    /// The path in the tree the report is about, if any.
    public var path: String?
    public var done: Int64?
    public var total: Int64?
    /// Unit of `done`/`total`: `bytes`, `volumes`, `percent`.
    public var unit: String?
    public var message: String

    public init(operation: String, path: String? = nil, done: Int64? = nil, total: Int64? = nil,
                unit: String? = nil, message: String) {
        self.operation = operation
        self.path = path
        self.done = done
        self.total = total
        self.unit = unit
        self.message = message
    }
}

/// Where connectors send notifications; implemented by the RPC layer.
public protocol Notifier: Sendable {
    func progress(_ progress: Progress)
    /// A log line for the host (`log` notification), besides stderr.
    func log(level: String, message: String)
}

/// A backup source, mirroring Plakar's importer.
///
/// The RPC layer calls `open` once, then `list` once (the `stream` flag),
/// then `read` any number of times, concurrently, then `close` exactly once
/// (also on EOF, SIGTERM or SIGINT). Every method may be cancelled; a
/// cancelled method throws ``PluginError`` with kind `cancelled`.
public protocol Importer: AnyObject, Sendable {
    /// Validates the configuration and checks access. No side effects.
    func open() async throws -> OpenResult
    /// The same checks as `open`, again, for `plakar source ping`.
    func ping() async throws -> JSONValue
    /// Produces the records of the virtual tree.
    func list() async throws -> [ListRecord]
    /// Reads up to `length` bytes of `path` at `offset`.
    func read(path: String, offset: Int64, length: Int) async throws -> ReadChunk
    /// Ends the session, cleans up, and returns a summary.
    func close() async throws -> JSONValue
}

/// The per-file outcome an exporter yields (exactly one per file).
public struct FileOutcome: Sendable, Equatable {
    public var path: String
    /// Empty on success.
    public var error: PluginError?
    /// Free-form facts about what was done (e.g. the snapshot id created).
    public var details: JSONValue

    public init(path: String, error: PluginError? = nil, details: JSONValue = .object([])) {
        self.path = path
        self.error = error
        self.details = details
    }
}

/// A restore target, mirroring Plakar's exporter.
///
/// Files arrive one at a time, in walk order: `beginFile`, then chunks in
/// offset order, then `finishFile`, which yields the file's single outcome.
/// A file whose chunk was refused is finished with that error and no
/// further chunks of it are accepted.
public protocol Exporter: AnyObject, Sendable {
    func open() async throws -> OpenResult
    func ping() async throws -> JSONValue
    func beginFile(path: String, info: FileInfo) async throws
    func writeChunk(path: String, offset: Int64, bytes: [UInt8]) async throws
    /// A chunk still in base64, for an exporter that decodes it straight
    /// into buffers of its own (the default decodes it into an array and
    /// calls ``writeChunk(path:offset:bytes:)``).
    ///
    /// When the text is refused, throw its ``Base64Text/Invalid`` unchanged,
    /// having taken nothing of the chunk: the host gets -32602 and the file
    /// goes on, as when the session decodes.
    func writeChunk(path: String, offset: Int64, data: Base64Text) async throws
    func finishFile(path: String) async throws -> FileOutcome
    func close() async throws -> JSONValue
}

extension Exporter {
    public func writeChunk(path: String, offset: Int64, data: Base64Text) async throws {
        try await writeChunk(path: path, offset: offset, bytes: data.decoded())
    }
}

/// Builds connectors for the protocols a plugin supports.
public protocol ConnectorFactory: Sendable {
    /// Protocol names this factory serves, e.g. `["scaleway-instance"]`.
    var protocols: [String] { get }
    func makeImporter(_ context: ConnectorContext) throws -> any Importer
    func makeExporter(_ context: ConnectorContext) throws -> any Exporter
}
