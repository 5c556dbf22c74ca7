/// Builds the outgoing lines: responses and notifications, each one compact
/// JSON object followed by `\n`.
public enum MessageLine {
    private static let head = Array(#"{"jsonrpc":"2.0","id":"#.utf8)

    /// `{"jsonrpc":"2.0","id":…,"result":…}\n`
    public static func result(id: RequestID, _ value: JSONValue) -> [UInt8] {
        var out = head
        JSONWriter.append(id.json, to: &out)
        out.append(contentsOf: #","result":"#.utf8)
        JSONWriter.append(value, to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    /// A result line built in one allocation around a pre-encoded value.
    public static func result(id: RequestID, _ value: any PreEncodedJSON) -> [UInt8] {
        var prefix = head
        JSONWriter.append(id.json, to: &prefix)
        prefix.append(contentsOf: #","result":"#.utf8)
        let bodyCount = value.encodedCount
        let total = prefix.count + bodyCount + 2
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            prefix.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            value.encode(into: base + prefix.count)
            base.storeBytes(of: UInt8(ascii: "}"), toByteOffset: total - 2, as: UInt8.self)
            base.storeBytes(of: UInt8(ascii: "\n"), toByteOffset: total - 1, as: UInt8.self)
            initialized = total
        }
    }

    /// `{"jsonrpc":"2.0","id":…|null,"error":{…}}\n`
    public static func error(id: RequestID?, _ error: ResponseError) -> [UInt8] {
        var out = head
        JSONWriter.append(id?.json ?? .null, to: &out)
        out.append(contentsOf: #","error":"#.utf8)
        JSONWriter.append(error.json, to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }

    /// `{"jsonrpc":"2.0","method":…,"params":…}\n`
    public static func notification(method: String, params: JSONValue) -> [UInt8] {
        var out = Array(#"{"jsonrpc":"2.0","method":"#.utf8)
        JSONWriter.appendString(method, to: &out)
        out.append(contentsOf: #","params":"#.utf8)
        JSONWriter.append(params, to: &out)
        out.append(contentsOf: "}\n".utf8)
        return out
    }
}
