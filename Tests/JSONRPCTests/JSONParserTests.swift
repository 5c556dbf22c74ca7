import Testing
import JSONRPC

@Suite struct JSONParserTests {
    private func parse(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }
    private func parse(bytes: [UInt8]) throws(JSONParseError) -> JSONValue { try JSONParser.parse(bytes).value }

    private func error(_ bytes: [UInt8], maxDepth: Int = 128) -> JSONParseError? {
        do throws(JSONParseError) {
            _ = try JSONParser.parse(bytes, options: .init(maxDepth: maxDepth))
            return nil
        } catch {
            return error
        }
    }
    private func error(_ text: String, maxDepth: Int = 128) -> JSONParseError? { error(Array(text.utf8), maxDepth: maxDepth) }

    @Test func parsesEveryKindOfValueKeepingMemberOrder() throws {
        let value = try parse(#" {"b":[1,-2.5e3,true,false,null],"a":"x\"y","c":{}} "#)
        #expect(value == .object([
            ("b", [.number("1"), .number("-2.5e3"), true, false, nil]),
            ("a", "x\"y"),
            ("c", .object([])),
        ]))
        #expect(value.objectValue?.map(\.key) == ["b", "a", "c"])
    }

    @Test func nestingUpToTheLimitIsAcceptedAndBeyondRefused() throws {
        let ok = String(repeating: "[", count: 128) + String(repeating: "]", count: 128)
        #expect(error(ok) == nil)
        let deep = String(repeating: "[", count: 129) + String(repeating: "]", count: 129)
        let failure = try #require(error(deep))
        #expect(failure.message.contains("nesting deeper than 128"))
        // A hostile 100 000-deep document fails fast instead of exhausting the stack.
        let hostile = String(repeating: "{\"a\":", count: 100_000)
        #expect(error(hostile)?.message.contains("nesting deeper") == true)
    }

    @Test func duplicateKeysAreRefusedNamingTheKey() throws {
        let failure = try #require(error(#"{"id":1,"method":"read","id":2}"#))
        #expect(failure.message.contains("duplicate key \"id\""))
        #expect(failure.offset == 24)
        // Beyond 16 members the set-based check applies too.
        let many = (0..<40).map { "\"k\($0)\":\($0)" }.joined(separator: ",")
        #expect(error("{\(many),\"k7\":0}")?.message.contains("duplicate key \"k7\"") == true)
        #expect(error("{\(many)}") == nil)
        // The same key in different objects is fine.
        #expect(error(#"{"a":{"x":1},"b":{"x":2}}"#) == nil)
    }

    @Test func hugeNumbersAreKeptAsTheirText() throws {
        let big = "123456789012345678901234567890123456789"
        #expect(try parse("[\(big), 18446744073709551615, -0.0, 1E+400]") ==
                [.number(big), .number("18446744073709551615"), .number("-0.0"), .number("1E+400")])
        #expect(JSONValue.number("9223372036854775807").int64Value == Int64.max)
        #expect(JSONValue.number(big).int64Value == nil)
    }

    @Test func malformedNumbersAreRefused() {
        for bad in ["01", "-", "1.", ".5", "1e", "+1", "0x10", "1.e5", "--1", "NaN", "Infinity"] {
            #expect(error(bad) != nil, "\(bad) should be refused")
        }
    }

    @Test func invalidUTF8IsRefusedWithItsOffset() throws {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22],                    // never valid
            [0x22, 0xC0, 0xAF, 0x22],              // overlong '/'
            [0x22, 0xE0, 0x80, 0xAF, 0x22],        // overlong 3-byte
            [0x22, 0xED, 0xA0, 0x80, 0x22],        // UTF-16 surrogate encoded
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xE2, 0x82, 0x22],              // truncated
            [0x22, 0x80, 0x22],                    // lone continuation byte
        ]
        for bytes in cases {
            let failure = try #require(error(bytes), "\(bytes) should be refused")
            #expect(failure.message.contains("invalid UTF-8"))
            #expect(failure.offset >= 1)
        }
        #expect(try parse(bytes: [0x22] + Array("é€😀".utf8) + [0x22]) == "é€😀")
    }

    @Test func nulIsAcceptedEscapedAndRefusedRaw() throws {
        #expect(try parse(#""a\u0000b""#) == .string("a\u{0}b"))
        let raw = try #require(error([0x22, 0x61, 0x00, 0x62, 0x22]))
        #expect(raw.message.contains("NUL"))
        #expect(raw.offset == 2)
        #expect(error([0x7B, 0x00, 0x7D]) != nil)
        #expect(error([0x5B, 0x31, 0x5D, 0x00]) != nil)
        let control = try #require(error("\"tab\there\""))
        #expect(control.message.contains("U+0009"))
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00""#) == .string("\"\\/\u{8}\u{c}\n\r\té😀"))
        #expect(error(#""\ud83d""#)?.message.contains("lone surrogate") == true)
        #expect(error(#""\ude00""#)?.message.contains("lone surrogate") == true)
        #expect(error(#""\x41""#)?.message.contains("invalid escape") == true)
        #expect(error(#""\u12G4""#) != nil)
    }

    @Test func syntaxErrorsSayWhatWasExpected() {
        #expect(error("")?.message.contains("empty document") == true)
        #expect(error("{\"a\" 1}")?.message.contains("expected ':'") == true)
        #expect(error("[1 2]")?.message.contains("expected ',' or ']'") == true)
        #expect(error("{\"a\":1,}")?.message.contains("expected a string key") == true)
        #expect(error("[1,]") != nil)
        #expect(error("{} x")?.message.contains("after the end") == true)
        #expect(error("\"open")?.message.contains("unterminated string") == true)
        #expect(error("tru")?.message.contains("true") == true)
    }

    @Test func topLevelIDIsRecoveredBeforeASyntaxError() throws {
        let failure = try #require(error(#"{"jsonrpc":"2.0","id":42,"method":"read","params":{"path":"/x",}}"#))
        #expect(failure.recoveredID == .number("42"))
        let nested = try #require(error(#"{"params":{"id":5},"method":oops}"#))
        #expect(nested.recoveredID == nil)
        let stringID = try #require(error(#"{"id":"a-1","x":[1,}"#))
        #expect(stringID.recoveredID == .string("a-1"))
    }

    @Test func theWordAtATimeScanFindsSpecialBytesAtEveryPosition() throws {
        // Quote, backslash escape, control character and non-ASCII at each
        // offset of the first three 8-byte words: the fast scan must hand over.
        for position in 0..<24 {
            let head = String(repeating: "A", count: position)
            let tail = String(repeating: "B", count: 30 - position)
            #expect(try parse("\"\(head)\\n\(tail)\"") == .string(head + "\n" + tail))
            #expect(try parse("\"\(head)é\(tail)\"") == .string(head + "é" + tail))
            #expect(try parse("[\"\(head)\",\"\(tail)\"]") == [.string(head), .string(tail)])
            #expect(error([0x22] + Array(head.utf8) + [0x09] + Array(tail.utf8) + [0x22])?.offset == position + 1)
            #expect(error([0x22] + Array(head.utf8) + [0x7F, 0xFF] + Array(tail.utf8) + [0x22])?.offset == position + 2)
            let long = String(repeating: "Q", count: 5000)
            let detached = try JSONParser.parse(Array("{\"p\":{\"d\":\"\(long)\(head)\\\"\(tail)\"}}".utf8),
                                                options: .init(detachStringsLongerThan: 4096))
            #expect(detached.detached.isEmpty)   // an escape means a real string
            #expect(detached.value["p"]?["d"] == .string(long + head + "\"" + tail))
        }
    }

    @Test func longPlainStringsAreDetachedAsByteRanges() throws {
        let data = String(repeating: "QUJD", count: 2000)
        let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"write","params":{"path":"/a","data":"\#(data)","eof":true}}"#.utf8)
        let result = try JSONParser.parse(line, options: .init(detachStringsLongerThan: 4096))
        #expect(result.detached.count == 1)
        let detached = try #require(result.detached.first)
        #expect(detached.path == ["params", "data"])
        #expect(String(decoding: line[detached.range], as: UTF8.self) == data)
        #expect(result.value["params"]?["data"] == "")
        #expect(result.value["params"]?["path"] == "/a")
        // Without the option the string is materialised.
        let plain = try JSONParser.parse(line)
        #expect(plain.detached.isEmpty)
        #expect(plain.value["params"]?["data"]?.stringValue == data)
    }
}
