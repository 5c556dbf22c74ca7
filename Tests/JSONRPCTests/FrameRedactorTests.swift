import JSONRPC
import Testing

@Suite struct FrameRedactorTests {
    @Test func secretMembersAreRedactedAtAnyDepth() {
        let line = Array(#"{"jsonrpc":"2.0","id":1,"method":"open","params":{"config":{"access_key":"SCWAAA","secret_key":"CANARY-1234","nested":[{"X-Auth-Token":"CANARY-5678"}]}}}"#.utf8) + [0x0A]
        let text = FrameRedactor.loggable(line, limit: 10_000)
        #expect(!text.contains("CANARY"))
        #expect(text.contains("[REDACTED]"))
        #expect(text.contains("SCWAAA"))
        #expect(text.contains("\"method\":\"open\""))
    }

    @Test func unparsableOrHugeFramesAreSummarisedNotPrinted() {
        let broken = Array(#"{"secret_key":"CANARY-1234""#.utf8)
        #expect(FrameRedactor.loggable(broken) == "<\(broken.count)-byte frame, content not logged>")
        let huge = Array(#"{"secret_key":"CANARY"}"#.utf8) + [UInt8](repeating: 0x20, count: FrameRedactor.maximumParsedFrame)
        #expect(!FrameRedactor.loggable(huge).contains("CANARY"))
    }

    @Test func longFramesAreCutAfterRedaction() {
        let data = String(repeating: "A", count: 4000)
        let line = Array(#"{"id":1,"result":{"data":"\#(data)","eof":false}}"#.utf8)
        let text = FrameRedactor.loggable(line)
        #expect(text.hasSuffix("… (\(line.count) bytes)"))
        #expect(text.utf8.count < 600)
    }
}
