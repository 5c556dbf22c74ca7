/// A fast codec for standard base64 (RFC 4648 §4: alphabet `A-Z a-z 0-9 + /`,
/// `=` padding) — the encoding of every byte on the protocol's data path.
///
/// Encoding maps 12 bits at a time through a 4096-entry table of character
/// pairs and handles 6 input bytes per step with one unaligned 64-bit load
/// and one 64-bit store. Decoding maps each character through four
/// pre-shifted tables whose invalid entries set a flag bit above the 24 data
/// bits, so one comparison per 4 characters validates the input.
///
/// Decoding is strict: the length must be a multiple of 4, padding may only
/// end the input (at most two `=`), and any byte outside the alphabet
/// (including whitespace and newlines) is refused with its offset. Unused
/// bits in the last character are ignored, as RFC 4648 permits.
public enum Base64 {
    /// Why a base64 text was refused.
    public struct DecodingError: Error, Sendable, Equatable, CustomStringConvertible {
        public var message: String
        /// Offset of the offending character in the base64 text.
        public var offset: Int
        public var description: String { message }
    }

    /// The number of characters `byteCount` bytes encode to (with padding).
    @inlinable public static func encodedCount(_ byteCount: Int) -> Int { (byteCount + 2) / 3 * 4 }

    // MARK: Tables

    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// For each 12-bit value, its two characters as a little-endian pair.
    private static let pairs: [UInt16] = (0..<4096).map { v in
        UInt16(alphabet[v >> 6]) | UInt16(alphabet[v & 63]) << 8
    }

    /// Invalid characters map to this flag, above the 24 data bits.
    private static let invalid: UInt32 = 0x0100_0000

    private static func decodeTable(shift: UInt32) -> [UInt32] {
        var table = [UInt32](repeating: invalid, count: 256)
        for (value, char) in alphabet.enumerated() { table[Int(char)] = UInt32(value) << shift }
        return table
    }
    /// One table per position in a quad: the 6-bit value already shifted.
    private static let decodeTables: [UInt32] = decodeTable(shift: 18) + decodeTable(shift: 12) + decodeTable(shift: 6) + decodeTable(shift: 0)

    // MARK: Encoding

    /// Encodes `input` into `output`, which must have room for
    /// ``encodedCount(_:)`` bytes. Returns the number of bytes written.
    @discardableResult
    public static func encode(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawPointer) -> Int {
        let n = input.count
        guard n > 0, let src = input.baseAddress else { return 0 }
        return pairs.withUnsafeBufferPointer { table -> Int in
            let t = table.baseAddress!
            var i = 0
            var o = 0
            // 6 bytes -> 8 characters per step; the 8-byte load needs 2 bytes of slack.
            while i + 8 <= n {
                let w = UInt64(bigEndian: src.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let a = UInt64(t[Int(truncatingIfNeeded: (w >> 52) & 0xFFF)])
                let b = UInt64(t[Int(truncatingIfNeeded: (w >> 40) & 0xFFF)])
                let c = UInt64(t[Int(truncatingIfNeeded: (w >> 28) & 0xFFF)])
                let d = UInt64(t[Int(truncatingIfNeeded: (w >> 16) & 0xFFF)])
                output.storeBytes(of: (a | b << 16 | c << 32 | d << 48).littleEndian, toByteOffset: o, as: UInt64.self)
                i += 6
                o += 8
            }
            // Whole triples.
            while i + 3 <= n {
                let v = Int(src.load(fromByteOffset: i, as: UInt8.self)) << 16
                    | Int(src.load(fromByteOffset: i + 1, as: UInt8.self)) << 8
                    | Int(src.load(fromByteOffset: i + 2, as: UInt8.self))
                output.storeBytes(of: t[v >> 12].littleEndian, toByteOffset: o, as: UInt16.self)
                output.storeBytes(of: t[v & 0xFFF].littleEndian, toByteOffset: o + 2, as: UInt16.self)
                i += 3
                o += 4
            }
            // Tail: 1 or 2 bytes, padded.
            let rest = n - i
            if rest > 0 {
                let b0 = Int(src.load(fromByteOffset: i, as: UInt8.self))
                let b1 = rest == 2 ? Int(src.load(fromByteOffset: i + 1, as: UInt8.self)) : 0
                let v = b0 << 16 | b1 << 8
                alphabet.withUnsafeBufferPointer { abc in
                    output.storeBytes(of: abc[v >> 18], toByteOffset: o, as: UInt8.self)
                    output.storeBytes(of: abc[(v >> 12) & 63], toByteOffset: o + 1, as: UInt8.self)
                    output.storeBytes(of: rest == 2 ? abc[(v >> 6) & 63] : UInt8(ascii: "="), toByteOffset: o + 2, as: UInt8.self)
                    output.storeBytes(of: UInt8(ascii: "="), toByteOffset: o + 3, as: UInt8.self)
                }
                o += 4
            }
            return o
        }
    }

    /// Encodes `bytes` to base64 characters.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        let count = encodedCount(bytes.count)
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { input in
                initialized = encode(input, into: UnsafeMutableRawPointer(buffer.baseAddress!))
            }
        }
    }

    /// Encodes `bytes` to a base64 string.
    public static func encodeToString(_ bytes: [UInt8]) -> String {
        String(decoding: encode(bytes), as: UTF8.self)
    }

    // MARK: Decoding

    /// The number of bytes a valid base64 text of `characterCount`
    /// characters ending in `padding` `=` characters decodes to.
    @inlinable public static func decodedCount(characterCount: Int, padding: Int) -> Int {
        characterCount / 4 * 3 - padding
    }

    /// Decodes base64 characters.
    ///
    /// - Throws: ``DecodingError`` naming the offending character or rule.
    public static func decode(_ input: UnsafeRawBufferPointer) throws(DecodingError) -> [UInt8] {
        let n = input.count
        guard n > 0, let src = input.baseAddress else { return [] }
        guard n % 4 == 0 else {
            throw DecodingError(message: "base64 text of \(n) characters is not a multiple of 4 long; pad it with '='", offset: n)
        }
        var padding = 0
        if src.load(fromByteOffset: n - 1, as: UInt8.self) == UInt8(ascii: "=") {
            padding = src.load(fromByteOffset: n - 2, as: UInt8.self) == UInt8(ascii: "=") ? 2 : 1
        }
        let outCount = decodedCount(characterCount: n, padding: padding)
        var failure: DecodingError? = nil
        // 4 bytes of slack let every quad be stored as one 32-bit write.
        let result = [UInt8](unsafeUninitializedCapacity: outCount + 4) { buffer, initialized in
            let dst = UnsafeMutableRawPointer(buffer.baseAddress!)
            decodeTables.withUnsafeBufferPointer { tables in
                let t = tables.baseAddress!
                let fullQuads = padding == 0 ? n / 4 : n / 4 - 1
                var i = 0
                var o = 0
                var q = 0
                while q < fullQuads {
                    let x = t[Int(src.load(fromByteOffset: i, as: UInt8.self))]
                        | t[256 + Int(src.load(fromByteOffset: i + 1, as: UInt8.self))]
                        | t[512 + Int(src.load(fromByteOffset: i + 2, as: UInt8.self))]
                        | t[768 + Int(src.load(fromByteOffset: i + 3, as: UInt8.self))]
                    if x >= invalid { failure = locateInvalid(src, from: i, count: n); return }
                    dst.storeBytes(of: (x << 8).bigEndian, toByteOffset: o, as: UInt32.self)
                    i += 4
                    o += 3
                    q += 1
                }
                if padding > 0 {
                    let c2 = src.load(fromByteOffset: i + 2, as: UInt8.self)
                    let c3 = UInt8(ascii: "=")
                    var x = t[Int(src.load(fromByteOffset: i, as: UInt8.self))]
                        | t[256 + Int(src.load(fromByteOffset: i + 1, as: UInt8.self))]
                    if padding == 1 { x |= t[512 + Int(c2)] }
                    if x >= invalid || (padding == 2 && c2 != c3) {
                        failure = locateInvalid(src, from: i, count: n - padding)
                        if failure == nil {
                            failure = DecodingError(message: "misplaced '=' padding in base64 text at offset \(i + 2)", offset: i + 2)
                        }
                        return
                    }
                    dst.storeBytes(of: UInt8(truncatingIfNeeded: x >> 16), toByteOffset: o, as: UInt8.self)
                    if padding == 1 { dst.storeBytes(of: UInt8(truncatingIfNeeded: x >> 8), toByteOffset: o + 1, as: UInt8.self) }
                    o += 3 - padding
                }
                initialized = o
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Decodes a base64 string.
    public static func decode(_ text: String) throws(DecodingError) -> [UInt8] {
        var text = text
        let r: Result<[UInt8], DecodingError> = text.withUTF8 { utf8 in
            do throws(DecodingError) { return .success(try decode(UnsafeRawBufferPointer(utf8))) } catch { return .failure(error) }
        }
        return try r.get()
    }

    private static func locateInvalid(_ src: UnsafeRawPointer, from start: Int, count: Int) -> DecodingError? {
        alphabet.withUnsafeBufferPointer { abc -> DecodingError? in
            for k in start..<count {
                let c = src.load(fromByteOffset: k, as: UInt8.self)
                if !abc.contains(c) {
                    let shown = c >= 0x21 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16))"
                    let what = c == UInt8(ascii: "=") ? "misplaced '=' padding" : "invalid character \(shown)"
                    return DecodingError(message: "\(what) in base64 text at offset \(k); expected the standard alphabet A-Z a-z 0-9 + /", offset: k)
                }
            }
            return nil
        }
    }
}
