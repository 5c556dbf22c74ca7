/// A JSON-RPC 2.0 error code.
///
/// The reserved codes of the specification are provided; applications use
/// -32000...-32099 ("server error") for their own failures.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }

    /// The line is not valid JSON (or not valid UTF-8). Answered with id `null`
    /// unless the id could be recovered (see ``JSONParseError/recoveredID``).
    public static let parseError = ErrorCode(-32700)
    /// Valid JSON that is not an acceptable request: not an object, a batch,
    /// a wrong `jsonrpc` version, a missing method, a bad id, an oversized line.
    public static let invalidRequest = ErrorCode(-32600)
    /// No method by that name.
    public static let methodNotFound = ErrorCode(-32601)
    /// The params are missing a field or carry a field of the wrong type.
    public static let invalidParams = ErrorCode(-32602)
    /// A failure inside the server that is not the caller's fault.
    public static let internalError = ErrorCode(-32603)
    /// The lowest and highest application-defined codes.
    public static let serverErrorRange: ClosedRange<Int> = -32099 ... -32000
}
