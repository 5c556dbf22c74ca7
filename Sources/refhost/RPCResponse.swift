import JSONRPC

/// An answer from the plugin: the result or the error, with the line it came in.
struct RPCResponse: Sendable {
    /// The raw response line (detached strings point into it).
    var line: [UInt8]
    var result: JSONValue?
    var error: RPCError?
    /// Long escape-free strings left in ``line`` (the base64 of `read`).
    var detached: [DetachedString]

    /// The bytes of the base64 string at `path` (e.g. `["result", "data"]`),
    /// decoded straight from the line when it was detached.
    func base64Member(_ path: [String]) throws -> [UInt8] {
        if let string = detached.first(where: { $0.path == path }) {
            do {
                return try line.withUnsafeBytes { bytes in
                    try Base64.decode(UnsafeRawBufferPointer(rebasing: bytes[string.range]))
                }
            } catch {
                throw RPCError.protocolViolation("\(path.joined(separator: ".")) is not valid base64: \(error)")
            }
        }
        var value: JSONValue? = ["result": result ?? .null]
        for key in path { value = value?[key] }
        guard let text = value?.stringValue else {
            throw RPCError.protocolViolation("the answer has no string \(path.joined(separator: "."))")
        }
        do {
            return try Base64.decode(text)
        } catch {
            throw RPCError.protocolViolation("\(path.joined(separator: ".")) is not valid base64: \(error)")
        }
    }
}
