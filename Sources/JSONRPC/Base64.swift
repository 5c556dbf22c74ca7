/// A fast codec for standard base64 (RFC 4648 §4: alphabet `A-Z a-z 0-9 + /`,
/// `=` padding) — the encoding of every byte on the protocol's data path.
///
/// Encoding maps 12 bits at a time through a 4096-entry table of character
/// pairs (8 KiB, stays in L1) and handles 12 input bytes per step: two
/// unaligned 64-bit loads and eight 16-bit stores of table entries.
/// Decoding maps two characters at a time through a 65536-entry table of
/// 12-bit values (128 KiB, stays in L2) and handles 8 characters per step:
/// one 64-bit load, four lookups, one 64-bit store. Invalid pairs map to a
/// flag bit that is OR-ed across the whole input and tested once at the end,
/// so the loop has no branch per character group.
///
/// Why these shapes (measured per core, release build, 1 MiB buffers, CPU
/// time on the shared 2-core machine): the earlier 6-byte encode step
/// combined four lookups into one 64-bit store, 2.0-2.4 GB/s; separate
/// 16-bit stores of 12 bytes per step cut the shifts and ORs, 2.2-3.5 GB/s.
/// The earlier decode read one character per load through four 1 KiB
/// tables and branched on every 4 characters, 1.1-1.25 GB/s; the pair
/// table halves the lookups, 1.6 GB/s. SIMD would do better still (AVX2
/// codecs reach 10+ GB/s) but Swift has neither byte-shuffle intrinsics nor
/// per-function target features, and the package builds for baseline
/// x86-64 (SSE2, no `pshufb`), where a vector version needs more
/// instructions than these tables.
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

    /// Flag of an invalid pair in ``pairValues`` (above the 12 data bits).
    private static let invalidPair: UInt16 = 0x8000

    /// For two characters read as a little-endian 16-bit value (first
    /// character in the low byte), their 12 data bits, or ``invalidPair``.
    private static let pairValues: [UInt16] = {
        var value = [Int](repeating: -1, count: 256)
        for (index, char) in alphabet.enumerated() { value[Int(char)] = index }
        return (0..<65536).map { pair in
            let first = value[pair & 0xFF]
            let second = value[pair >> 8]
            return first < 0 || second < 0 ? invalidPair : UInt16(first << 6 | second)
        }
    }()

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
            // 12 bytes -> 16 characters per step: two 8-byte loads (the second
            // needs 2 bytes of slack), each entry stored where it goes.
            while i + 14 <= n {
                let w = UInt64(bigEndian: src.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let x = UInt64(bigEndian: src.loadUnaligned(fromByteOffset: i + 6, as: UInt64.self))
                output.storeBytes(of: t[Int(truncatingIfNeeded: w >> 52)].littleEndian, toByteOffset: o, as: UInt16.self)
                output.storeBytes(of: t[Int(truncatingIfNeeded: (w >> 40) & 0xFFF)].littleEndian, toByteOffset: o + 2, as: UInt16.self)
                output.storeBytes(of: t[Int(truncatingIfNeeded: (w >> 28) & 0xFFF)].littleEndian, toByteOffset: o + 4, as: UInt16.self)
                output.storeBytes(of: t[Int(truncatingIfNeeded: (w >> 16) & 0xFFF)].littleEndian, toByteOffset: o + 6, as: UInt16.self)
                output.storeBytes(of: t[Int(truncatingIfNeeded: x >> 52)].littleEndian, toByteOffset: o + 8, as: UInt16.self)
                output.storeBytes(of: t[Int(truncatingIfNeeded: (x >> 40) & 0xFFF)].littleEndian, toByteOffset: o + 10, as: UInt16.self)
                output.storeBytes(of: t[Int(truncatingIfNeeded: (x >> 28) & 0xFFF)].littleEndian, toByteOffset: o + 12, as: UInt16.self)
                output.storeBytes(of: t[Int(truncatingIfNeeded: (x >> 16) & 0xFFF)].littleEndian, toByteOffset: o + 14, as: UInt16.self)
                i += 12
                o += 16
            }
            // 6 bytes -> 8 characters; the 8-byte load needs 2 bytes of slack.
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

    /// Encodes the concatenation of `pieces` into `output`, which must have
    /// room for ``encodedCount(_:)`` of their total. Returns the number of
    /// bytes written.
    ///
    /// Each piece is encoded in place; the 1 or 2 bytes a piece ends with
    /// beyond a whole triple are completed with the next piece's first bytes,
    /// so the text is the one the joined bytes would give.
    @discardableResult
    public static func encode(pieces: [ArraySlice<UInt8>], into output: UnsafeMutableRawPointer) -> Int {
        var o = 0
        var triple: (UInt8, UInt8, UInt8) = (0, 0, 0)
        var carried = 0
        for piece in pieces {
            piece.withUnsafeBytes { raw in
                var start = 0
                if carried > 0 {
                    while carried < 3 && start < raw.count {
                        withUnsafeMutableBytes(of: &triple) { $0[carried] = raw[start] }
                        carried += 1
                        start += 1
                    }
                    guard carried == 3 else { return }
                    o += withUnsafeBytes(of: triple) { encode($0, into: output + o) }
                    carried = 0
                }
                let remaining = raw.count - start
                let whole = remaining - remaining % 3
                o += encode(UnsafeRawBufferPointer(rebasing: raw[start..<(start + whole)]), into: output + o)
                for k in 0..<(remaining - whole) {
                    withUnsafeMutableBytes(of: &triple) { $0[k] = raw[start + whole + k] }
                }
                carried = remaining - whole
            }
        }
        if carried > 0 {
            o += withUnsafeBytes(of: triple) { encode(UnsafeRawBufferPointer(rebasing: $0[0..<carried]), into: output + o) }
        }
        return o
    }

    /// Encodes `bytes` to base64 characters.
    public static func encode(_ bytes: [UInt8]) -> [UInt8] {
        let count = encodedCount(bytes.count)
        // Not with capacity 0 (see `decode(_:)`).
        guard count > 0 else { return [] }
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

    /// The number of bytes `input` decodes to, after checking its length
    /// and padding (its characters are checked as it is decoded).
    ///
    /// - Throws: ``DecodingError`` when the length is not a multiple of 4.
    public static func decodedCount(of input: UnsafeRawBufferPointer) throws(DecodingError) -> Int {
        let n = input.count
        guard n > 0, let src = input.baseAddress else { return 0 }
        guard n % 4 == 0 else {
            throw DecodingError(message: "base64 text of \(n) characters is not a multiple of 4 long; pad it with '='", offset: n)
        }
        var padding = 0
        if src.load(fromByteOffset: n - 1, as: UInt8.self) == UInt8(ascii: "=") {
            padding = src.load(fromByteOffset: n - 2, as: UInt8.self) == UInt8(ascii: "=") ? 2 : 1
        }
        return decodedCount(characterCount: n, padding: padding)
    }

    /// Decodes base64 characters.
    ///
    /// - Throws: ``DecodingError`` naming the offending character or rule.
    public static func decode(_ input: UnsafeRawBufferPointer) throws(DecodingError) -> [UInt8] {
        let outCount = try decodedCount(of: input)
        // `unsafeUninitializedCapacity: 0` would store the count into the
        // shared empty-array singleton (a write ThreadSanitizer reports as a
        // race between threads doing it at once); nothing to decode anyway.
        guard outCount > 0 else { return [] }
        var failure: DecodingError? = nil
        let result = [UInt8](unsafeUninitializedCapacity: outCount) { buffer, initialized in
            do throws(DecodingError) {
                initialized = try decode(input, into: UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return result
    }

    /// Decodes base64 characters into `destination`, which must hold at
    /// least ``decodedCount(of:)`` bytes; returns that count. Nothing is
    /// written past it, so `destination` may be the free end of a larger
    /// buffer (the restore path decodes `write` data straight into the
    /// multipart part filling). When the text is refused, the bytes of
    /// `destination` are unspecified.
    ///
    /// - Throws: ``DecodingError`` naming the offending character or rule.
    public static func decode(_ input: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) throws(DecodingError) -> Int {
        let outCount = try decodedCount(of: input)
        guard outCount > 0, let src = input.baseAddress else { return 0 }
        precondition(destination.count >= outCount, "base64 decoding of \(outCount) bytes into \(destination.count)")
        let dst = destination.baseAddress!
        let n = input.count
        let padding = n / 4 * 3 - outCount
        let fullQuads = padding == 0 ? n / 4 : n / 4 - 1
        var i = 0
        var o = 0
        var q = 0
        // 8 characters -> 6 bytes per step through the pair table, stored
        // as one 64-bit write whose last 2 bytes the next step overwrites
        // (so it stops 8 bytes before the end of `destination`); the
        // validity flags are collected and tested once after the loop.
        let pairsFailed: Bool = pairValues.withUnsafeBufferPointer { table in
            let t = table.baseAddress!
            var flags: UInt16 = 0
            while q + 2 <= fullQuads && o + 8 <= destination.count {
                let w = UInt64(littleEndian: src.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let a = t[Int(truncatingIfNeeded: w & 0xFFFF)]
                let b = t[Int(truncatingIfNeeded: (w >> 16) & 0xFFFF)]
                let c = t[Int(truncatingIfNeeded: (w >> 32) & 0xFFFF)]
                let d = t[Int(truncatingIfNeeded: w >> 48)]
                flags |= a | b | c | d
                let bits = UInt64(a) << 36 | UInt64(b) << 24 | UInt64(c) << 12 | UInt64(d)
                dst.storeBytes(of: (bits << 16).bigEndian, toByteOffset: o, as: UInt64.self)
                i += 8
                o += 6
                q += 2
            }
            return flags & invalidPair != 0
        }
        if pairsFailed, let failure = locateInvalid(src, from: 0, count: n) { throw failure }
        // The last quads one at a time, three exact byte stores each.
        let failure: DecodingError? = decodeTables.withUnsafeBufferPointer { tables in
            let t = tables.baseAddress!
            while q < fullQuads {
                let x = t[Int(src.load(fromByteOffset: i, as: UInt8.self))]
                    | t[256 + Int(src.load(fromByteOffset: i + 1, as: UInt8.self))]
                    | t[512 + Int(src.load(fromByteOffset: i + 2, as: UInt8.self))]
                    | t[768 + Int(src.load(fromByteOffset: i + 3, as: UInt8.self))]
                if x >= invalid { return locateInvalid(src, from: i, count: n) }
                dst.storeBytes(of: UInt8(truncatingIfNeeded: x >> 16), toByteOffset: o, as: UInt8.self)
                dst.storeBytes(of: UInt8(truncatingIfNeeded: x >> 8), toByteOffset: o + 1, as: UInt8.self)
                dst.storeBytes(of: UInt8(truncatingIfNeeded: x), toByteOffset: o + 2, as: UInt8.self)
                i += 4
                o += 3
                q += 1
            }
            if padding > 0 {
                let c2 = src.load(fromByteOffset: i + 2, as: UInt8.self)
                var x = t[Int(src.load(fromByteOffset: i, as: UInt8.self))]
                    | t[256 + Int(src.load(fromByteOffset: i + 1, as: UInt8.self))]
                if padding == 1 { x |= t[512 + Int(c2)] }
                if x >= invalid || (padding == 2 && c2 != UInt8(ascii: "=")) {
                    return locateInvalid(src, from: i, count: n - padding)
                        ?? DecodingError(message: "misplaced '=' padding in base64 text at offset \(i + 2)", offset: i + 2)
                }
                dst.storeBytes(of: UInt8(truncatingIfNeeded: x >> 16), toByteOffset: o, as: UInt8.self)
                if padding == 1 { dst.storeBytes(of: UInt8(truncatingIfNeeded: x >> 8), toByteOffset: o + 1, as: UInt8.self) }
            }
            return nil
        }
        if let failure { throw failure }
        return outCount
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
