import JSONRPC

/// Builds `write` request lines in one allocation, base64-encoding the chunk
/// straight into the line (no `JSONValue`, no intermediate string).
enum WriteRequest {
    /// `{"jsonrpc":"2.0","id":N,"method":"write","params":{"path":…,"offset":N,"eof":B[,"fileinfo":{…}],"data":"<base64>"}}\n`
    static func line(id: Int64, path: String, offset: Int64, eof: Bool, fileInfo: JSONValue?,
                     chunk: UnsafeRawBufferPointer) -> [UInt8] {
        var prefix = Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"write\",\"params\":{\"path\":".utf8)
        JSONWriter.appendString(path, to: &prefix)
        prefix.append(contentsOf: Array(",\"offset\":\(offset),\"eof\":\(eof)".utf8))
        if let fileInfo {
            prefix.append(contentsOf: Array(",\"fileinfo\":".utf8))
            JSONWriter.append(fileInfo, to: &prefix)
        }
        prefix.append(contentsOf: Array(",\"data\":\"".utf8))
        let suffix = Array("\"}}\n".utf8)
        let total = prefix.count + Base64.encodedCount(chunk.count) + suffix.count
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, count in
            let base = UnsafeMutableRawPointer(buffer.baseAddress!)
            prefix.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            var position = prefix.count
            if chunk.count > 0 {
                position += Base64.encode(chunk, into: base + position)
            }
            suffix.withUnsafeBytes { (base + position).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
            count = position + suffix.count
        }
    }
}
