/// The `error` member of a JSON-RPC response, also thrown by method handlers.
///
/// A handler may throw a `ResponseError` to answer with exactly this code,
/// message and data; any other error goes through the connection's error
/// mapper (see ``JSONRPCConnection/Configuration/errorMapper``).
public struct ResponseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: ErrorCode
    /// One sentence saying what is wrong and what to do.
    public var message: String
    /// Machine-readable details (an object).
    public var data: JSONValue?

    public init(_ code: ErrorCode, _ message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String { "JSON-RPC error \(code.rawValue): \(message)" }

    /// The JSON form: `{"code":…,"message":…,"data":…}`.
    public var json: JSONValue {
        var members: [(key: String, value: JSONValue)] = [("code", .int(code.rawValue)), ("message", .string(message))]
        if let data { members.append(("data", data)) }
        return .object(members)
    }

    /// The `data.kind` of every -32602 the engine raises, so hosts can
    /// switch on `kind` for every error, as they do for plugin errors.
    public static let invalidParamsKind = "invalid_params"

    /// -32602 naming the field and the expected type, e.g.
    /// `invalid params: "offset" must be a non-negative integer, got string`;
    /// `data` = `{kind: "invalid_params", field, expected}`.
    public static func invalidParams(field: String, expected: String, got: JSONValue?) -> ResponseError {
        let found = got.map { "got \($0.typeName)" } ?? "it is missing"
        return ResponseError(.invalidParams, "invalid params: \"\(field)\" must be \(expected), \(found)",
                             data: ["kind": .string(invalidParamsKind), "field": .string(field), "expected": .string(expected)])
    }

    /// -32602 for a field whose type is right but whose value is not;
    /// `data` = `{kind: "invalid_params", field}`.
    public static func invalidParams(field: String, _ message: String) -> ResponseError {
        ResponseError(.invalidParams, "invalid params: \"\(field)\" \(message)",
                      data: ["kind": .string(invalidParamsKind), "field": .string(field)])
    }
}
