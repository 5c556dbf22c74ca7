import JSONRPC

/// A JSON-RPC error answer, or a failure of the exchange itself.
struct RPCError: Error, Sendable, CustomStringConvertible {
    var code: Int
    var message: String
    var data: JSONValue?

    static func protocolViolation(_ message: String) -> RPCError {
        RPCError(code: 0, message: "protocol violation: \(message)")
    }

    static func transport(_ message: String) -> RPCError {
        RPCError(code: 0, message: message)
    }

    var kind: String? { data?["kind"]?.stringValue }

    var description: String {
        var text = message
        if let kind { text = "[\(kind)] " + text }
        if code != 0 { text += " (code \(code))" }
        if let hint = data?["hint"]?.stringValue { text += "; hint: \(hint)" }
        return text
    }
}
