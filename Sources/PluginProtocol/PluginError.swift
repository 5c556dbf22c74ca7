import JSONRPC

/// A plugin-level failure carried to the host as a JSON-RPC error.
///
/// Plugin errors use codes -32000...-32099 and carry in `data` a stable,
/// machine-readable ``Kind`` and a hint that says how to fix the problem.
/// Invalid parameters (a config key missing or malformed) use -32602 and
/// name the field.
public struct PluginError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable machine-readable category (the `data.kind` field).
    public struct Kind: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let config = Kind(rawValue: "config")
        public static let auth = Kind(rawValue: "auth")
        public static let permission = Kind(rawValue: "permission")
        public static let notFound = Kind(rawValue: "not_found")
        public static let quota = Kind(rawValue: "quota")
        public static let conflict = Kind(rawValue: "conflict")
        public static let remote = Kind(rawValue: "remote")
        public static let io = Kind(rawValue: "io")
        public static let cancelled = Kind(rawValue: "cancelled")
        public static let unsupported = Kind(rawValue: "unsupported")
        public static let state = Kind(rawValue: "state")
        public static let invalidInput = Kind(rawValue: "invalid_input")
        public static let timeout = Kind(rawValue: "timeout")
        public static let `internal` = Kind(rawValue: "internal")

        /// The JSON-RPC error code used for this kind.
        public var code: Int {
            switch self {
            case .config: -32602
            case .auth: -32001
            case .permission: -32002
            case .notFound: -32003
            case .quota: -32004
            case .conflict: -32005
            case .remote: -32006
            case .io: -32007
            case .cancelled: -32008
            case .unsupported: -32009
            case .state: -32010
            case .invalidInput: -32011
            case .timeout: -32012
            default: -32000
            }
        }
    }

    public var kind: Kind
    /// What went wrong, in one sentence naming the thing concerned.
    public var message: String
    /// How to fix it.
    public var hint: String?
    /// The config key or parameter concerned, if any.
    public var field: String?
    /// The underlying cause (a remote error's description), never a secret.
    public var cause: String?

    public init(_ kind: Kind, _ message: String, hint: String? = nil, field: String? = nil, cause: String? = nil) {
        self.kind = kind
        self.message = message
        self.hint = hint
        self.field = field
        self.cause = cause
    }

    public var description: String {
        var s = "\(kind): \(message)"
        if let hint { s += " (hint: \(hint))" }
        return s
    }
}
