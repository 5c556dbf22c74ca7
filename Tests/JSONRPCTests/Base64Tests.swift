import Foundation
import Testing
import JSONRPC

@Suite struct Base64Tests {
    /// Deterministic pseudo-random bytes (xorshift).
    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return UInt8(truncatingIfNeeded: state)
        }
    }

    @Test func encodingMatchesFoundationForEveryLengthUpTo300() throws {
        for length in 0...300 {
            let bytes = Self.randomBytes(length, seed: UInt64(length) &* 0x9E37_79B9)
            let ours = Base64.encodeToString(bytes)
            #expect(ours == Data(bytes).base64EncodedString(), "length \(length)")
            #expect(Base64.encodedCount(length) == ours.utf8.count)
            #expect(try Base64.decode(ours) == bytes, "length \(length)")
        }
    }

    @Test func decodingMatchesFoundationOnRandomTextsInVariedChunkings() throws {
        let data = Self.randomBytes(100_003, seed: 42)
        var offset = 0
        var chunkSizes = [1, 2, 3, 4, 5, 6, 7, 8, 9, 63, 64, 65, 4095, 4096, 4097, 65_536]
        var index = 0
        while offset < data.count {
            let size = min(chunkSizes[index % chunkSizes.count], data.count - offset)
            let chunk = Array(data[offset..<(offset + size)])
            let text = Data(chunk).base64EncodedString()
            #expect(try Base64.decode(text) == chunk)
            #expect(Base64.encodeToString(chunk) == text)
            offset += size
            index += 1
        }
        chunkSizes.removeAll()
    }

    /// A read answered from several pages: the pieces' text is the joined
    /// bytes' text, whatever the pieces' sizes (empty, 1, 2, 3 bytes, not
    /// multiples of 3, long) and however many there are.
    @Test(arguments: [[0], [1], [2], [3], [1, 1], [2, 2, 2], [1, 0, 1, 0, 1], [5, 7, 11, 13],
                      [3, 3, 3], [4097, 1], [1, 65_537, 2], [1 << 20, 1 << 20, 1000], [0, 0, 3, 0]])
    func piecesEncodeAsTheirJoinedBytes(sizes: [Int]) {
        let total = sizes.reduce(0, +)
        let joined = Self.randomBytes(total, seed: UInt64(total) &+ UInt64(sizes.count))
        var pieces: [ArraySlice<UInt8>] = []
        var offset = 0
        for size in sizes {
            pieces.append(joined[offset..<(offset + size)])
            offset += size
        }
        let expected = Data(joined).base64EncodedString()
        var out = [UInt8](repeating: 0, count: Base64.encodedCount(total) + 1)
        let written = out.withUnsafeMutableBytes { Base64.encode(pieces: pieces, into: $0.baseAddress!) }
        #expect(written == Base64.encodedCount(total), "pieces \(sizes)")
        #expect(String(decoding: out[0..<written], as: UTF8.self) == expected, "pieces \(sizes)")
        #expect(out[written] == 0, "nothing written past the text")

        let object = Base64ObjectJSON(key: "data", pieces: pieces, members: [("eof", .bool(true))])
        var line = [UInt8](repeating: 0, count: object.encodedCount)
        line.withUnsafeMutableBytes { object.encode(into: $0.baseAddress!) }
        #expect(String(decoding: line, as: UTF8.self) == "{\"data\":\"\(expected)\",\"eof\":true}")
    }

    @Test func encodesIntoPlaceInsideALargerBuffer() {
        let bytes = Self.randomBytes(1000, seed: 7)
        var buffer = [UInt8](repeating: UInt8(ascii: "#"), count: 3 + Base64.encodedCount(1000) + 3)
        let written = buffer.withUnsafeMutableBytes { out in
            bytes.withUnsafeBytes { Base64.encode($0, into: out.baseAddress! + 3) }
        }
        #expect(written == Base64.encodedCount(1000))
        #expect(Array(buffer.prefix(3)) == Array("###".utf8))
        #expect(Array(buffer.suffix(3)) == Array("###".utf8))
        #expect(String(decoding: buffer[3..<(3 + written)], as: UTF8.self) == Data(bytes).base64EncodedString())
    }

    @Test func anInvalidCharacterIsFoundAtEveryPosition() throws {
        let text = Array(Data(Self.randomBytes(300, seed: 5)).base64EncodedString().utf8)
        for position in 0..<(text.count - 2) {
            for bad: UInt8 in [UInt8(ascii: "-"), UInt8(ascii: "_"), 0x0A, 0x00, 0xC3] {
                var corrupted = text
                corrupted[position] = bad
                let result: Result<[UInt8], Base64.DecodingError> = corrupted.withUnsafeBytes { raw in
                    do throws(Base64.DecodingError) { return .success(try Base64.decode(raw)) } catch { return .failure(error) }
                }
                switch result {
                case .success: Issue.record("accepted byte \(bad) at \(position)")
                case let .failure(error): #expect(error.offset == position, "byte \(bad)")
                }
            }
        }
    }

    @Test func invalidTextIsRefusedWithItsOffset() {
        func failure(_ text: String) -> Base64.DecodingError? {
            do throws(Base64.DecodingError) { _ = try Base64.decode(text); return nil } catch { return error }
        }
        #expect(failure("QUJD")  == nil)
        #expect(failure("QUJ")?.message.contains("multiple of 4") == true)
        #expect(failure("QU*D")?.offset == 2)
        #expect(failure("QU=D")?.message.contains("padding") == true)
        #expect(failure("QUJDRA==QUJD")?.message.contains("padding") == true)
        #expect(failure("QUJD\nQUJD") != nil)
        #expect(failure("Q===") != nil)
        #expect(failure("QUJDR*==")?.offset == 5)
        #expect(failure("QUJDR\u{0}==") != nil)
    }
}

/// Decoding into the caller's memory (``Base64/decode(_:into:)``,
/// ``Base64Text``): what the restore path uses to decode `write` data
/// straight into its part buffers.
@Suite struct Base64IntoBufferTests {
    @Test func decodesEveryLengthIntoAnExactRoomWithoutWritingPastIt() throws {
        for length in Array(0...100) + [4095, 4096, 4097, 65_536, 1 << 20, (1 << 20) + 1] {
            let bytes = Base64Tests.randomBytes(length, seed: UInt64(length) &+ 77)
            let text = Array(Data(bytes).base64EncodedString().utf8)
            // Room for exactly the decoded bytes, inside a larger buffer whose guard bytes must stay.
            var buffer = [UInt8](repeating: 0xA5, count: 16 + length + 16)
            let written = try buffer.withUnsafeMutableBytes { out in
                try text.withUnsafeBytes { try Base64.decode($0, into: UnsafeMutableRawBufferPointer(rebasing: out[16..<(16 + length)])) }
            }
            #expect(written == length)
            #expect(Array(buffer[16..<(16 + length)]) == bytes, "length \(length)")
            #expect(buffer.prefix(16).allSatisfy { $0 == 0xA5 } && buffer.suffix(16).allSatisfy { $0 == 0xA5 }, "length \(length)")
            #expect(try text.withUnsafeBytes { try Base64.decodedCount(of: $0) } == length)
        }
    }

    @Test func aParamDecodesIntoTheCallersRoomOrIntoAnArray() throws {
        let bytes = Base64Tests.randomBytes(100_000, seed: 3)
        let request = IncomingRequest(id: .number("1"), method: "write", params: ["data": .string(Data(bytes).base64EncodedString())])
        let text = try request.base64Text("data")
        #expect(text.decodedCount == bytes.count)
        #expect(try text.decoded() == bytes)
        var room = [UInt8](repeating: 0, count: bytes.count)
        #expect(try room.withUnsafeMutableBytes { try text.decode(into: $0) } == bytes.count)
        #expect(room == bytes)
        #expect(try request.base64Param("data") == bytes)
    }

    @Test func malformedTextIsRefusedNamingTheField() {
        func refusal(_ params: JSONValue, decoding: Bool = true) -> ResponseError? {
            let request = IncomingRequest(id: .number("1"), method: "write", params: params)
            do throws(Base64Text.Invalid) {
                let text = try request.base64Text("data")
                if decoding { _ = try text.decoded() }
                return nil
            } catch {
                return error.response
            }
        }
        #expect(refusal(["data": "QUJD"]) == nil)
        #expect(refusal(["data": ""]) == nil)
        let missing = refusal(["other": "QUJD"])
        #expect(missing?.code == .invalidParams && missing?.message.contains("data") == true)
        #expect(refusal(["data": 12])?.code == .invalidParams)
        // The length is checked when the text is taken, the characters when it is decoded.
        #expect(refusal(["data": "QUJ"], decoding: false)?.message.contains("multiple of 4") == true)
        #expect(refusal(["data": "QU*D"], decoding: false) == nil)
        let bad = refusal(["data": "QU*D"])
        #expect(bad?.code == .invalidParams && bad?.message.contains("data") == true && bad?.message.contains("offset 2") == true)
        #expect(refusal(["data": "QU=D"])?.message.contains("padding") == true)
        #expect(refusal(["data": "QUJDRA==QUJD"])?.message.contains("padding") == true)
        #expect(refusal(["data": "QUJD\nQUJD"]) != nil)
    }
}
