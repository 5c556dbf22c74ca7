import Foundation
import Testing
import JSONRPC

@Suite struct JSONWriterTests {
    @Test func escapesControlCharactersQuotesAndBackslashes() {
        let text = JSONWriter.string(.string("a\"b\\c\nd\re\tf\u{0}g\u{1F}h€"))
        #expect(text == #""a\"b\\c\nd\re\tf\u0000g\u001fh€""#)
    }

    @Test func writesCompactJSONThatRoundTrips() throws {
        let value: JSONValue = ["id": .number("18446744073709551615"), "list": [1, "two", nil, true],
                                "nested": ["k": "v\n"], "empty": .object([]), "none": .array([])]
        let bytes = JSONWriter.bytes(value)
        #expect(!bytes.contains(0x0A))
        #expect(try JSONParser.parse(bytes).value == value)
        // Foundation agrees it is JSON.
        #expect(try JSONSerialization.jsonObject(with: Data(bytes)) is [String: Any])
    }

    @Test func everyScalarRoundTripsThroughWriterAndParser() throws {
        var scalars = (0..<0x800).compactMap(Unicode.Scalar.init)
        scalars += [Unicode.Scalar(0xFFFD)!, Unicode.Scalar(0x10FFFF)!, Unicode.Scalar(0x1F600)!]
        let text = String(String.UnicodeScalarView(scalars))
        #expect(try JSONParser.parse(JSONWriter.string(.string(text))) == .string(text))
    }
}
