/// A request id, echoed in the response with its JSON type.
///
/// JSON-RPC ids are strings or numbers. Numbers are kept as their literal
/// text so that `7`, `7.0` and `18446744073709551615` come back exactly as
/// sent. Two ids are the same request when their type and text match.
public enum RequestID: Hashable, Sendable, CustomStringConvertible {
    case number(String)
    case string(String)

    /// The id as a JSON value, for responses.
    public var json: JSONValue {
        switch self {
        case let .number(text): .number(text)
        case let .string(s): .string(s)
        }
    }

    /// Reads an id from a JSON value; `nil` for any other type.
    public init?(_ value: JSONValue) {
        switch value {
        case let .number(text): self = .number(text)
        case let .string(s): self = .string(s)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case let .number(text): text
        case let .string(s): JSONWriter.string(.string(s))
        }
    }
}
