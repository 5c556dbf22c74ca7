/// A JSON value already serialised, written straight into a response line.
///
/// The data path answers `read` with megabytes of base64. Instead of
/// building a ``JSONValue`` and serialising it, a handler returns a
/// `PreEncodedJSON` whose exact size is known up front; the connection
/// allocates the whole response line once (envelope prefix + this value +
/// suffix), lets the value encode itself into place, and hands the line to
/// the output with one `write(2)`.
public protocol PreEncodedJSON: Sendable {
    /// Exact number of bytes ``encode(into:)`` writes.
    var encodedCount: Int { get }
    /// Writes exactly ``encodedCount`` bytes of valid JSON at `buffer`.
    func encode(into buffer: UnsafeMutableRawPointer)
}

/// What a method handler answers.
public enum MethodResult: Sendable {
    /// A result serialised by ``JSONWriter``.
    case value(JSONValue)
    /// A result that serialises itself into the response line (data path).
    case preEncoded(any PreEncodedJSON)
}

/// An object with one member holding bytes as base64 and some small
/// members after it, e.g. `{"data":"aGVsbG8=","eof":true}`.
///
/// Encodes without any intermediate copy of the base64 text.
public struct Base64ObjectJSON: PreEncodedJSON {
    private let prefix: [UInt8]
    private let suffix: [UInt8]
    private let pieces: [ArraySlice<UInt8>]
    private let byteCount: Int

    /// - Parameters:
    ///   - key: the member holding the base64 text (first member).
    ///   - bytes: the raw bytes to encode.
    ///   - members: further members, serialised after it.
    public init(key: String, bytes: [UInt8], members: [(key: String, value: JSONValue)] = []) {
        self.init(key: key, pieces: [bytes[...]], members: members)
    }

    /// - Parameters:
    ///   - key: the member holding the base64 text (first member).
    ///   - pieces: the raw bytes to encode, as consecutive pieces (encoded
    ///     where they are, not joined first).
    ///   - members: further members, serialised after it.
    public init(key: String, pieces: [ArraySlice<UInt8>], members: [(key: String, value: JSONValue)] = []) {
        var prefix: [UInt8] = [UInt8(ascii: "{")]
        JSONWriter.appendString(key, to: &prefix)
        prefix.append(contentsOf: ":\"".utf8)
        var suffix: [UInt8] = [UInt8(ascii: "\"")]
        for member in members {
            suffix.append(UInt8(ascii: ","))
            JSONWriter.appendString(member.key, to: &suffix)
            suffix.append(UInt8(ascii: ":"))
            JSONWriter.append(member.value, to: &suffix)
        }
        suffix.append(UInt8(ascii: "}"))
        self.prefix = prefix
        self.suffix = suffix
        self.pieces = pieces
        self.byteCount = pieces.reduce(0) { $0 + $1.count }
    }

    public var encodedCount: Int { prefix.count + Base64.encodedCount(byteCount) + suffix.count }

    public func encode(into buffer: UnsafeMutableRawPointer) {
        var o = 0
        prefix.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        o += prefix.count
        o += Base64.encode(pieces: pieces, into: buffer + o)
        suffix.withUnsafeBytes { (buffer + o).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
    }
}
