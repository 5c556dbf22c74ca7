import Foundation
import PluginTestSupport
import JSONRPC
import Testing

/// Every error code, through the real binary.
@Suite(.serialized) struct ErrorCodeTests {
    @Test func garbageThenUnknownMethodIsParseErrorThenMethodNotFoundAndExitZero() throws {
        let plugin = try PluginProcess()
        plugin.write(Array("garbage\n{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"nope\"}\n".utf8))
        plugin.closeInput()
        let first = try plugin.nextMessage()
        #expect(first.errorCode == -32700)
        #expect(first["id"] == .null)
        let second = try plugin.nextMessage()
        #expect(second.errorCode == -32601)
        #expect(second["id"] == .number("7"))
        #expect(try plugin.remainingLines().isEmpty)
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func protocolErrorsAreAnsweredAndServingGoesOn() throws {
        let plugin = try PluginProcess(testConnector: true)
        let cases: [(line: String, code: Int, id: JSONValue)] = [
            (#"{"jsonrpc":"2.0","id":1,"method":"ping""#, -32700, .number("1")),   // id recovered before the syntax error
            ("\u{FF}\u{FE}", -32700, .null),
            (#"[{"jsonrpc":"2.0","id":2,"method":"ping"}]"#, -32600, .null),      // batch refused
            (#""just a string""#, -32600, .null),
            (#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#, -32600, .number("3")),
            (#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#, -32600, .null),
            (#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#, -32600, .null),
            (#"{"jsonrpc":"2.0","id":4}"#, -32600, .number("4")),
            (#"{"jsonrpc":"2.0","id":5,"method":7}"#, -32600, .number("5")),
            (#"{"jsonrpc":"2.0","id":6,"method":"ping","params":3}"#, -32600, .number("6")),
            (#"{"jsonrpc":"2.0","id":"s-7","method":"frobnicate"}"#, -32601, .string("s-7")),
            (#"{"jsonrpc":"2.0","id":8,"method":"read","params":{"offset":0,"length":10}}"#, -32602, .number("8")),
            (#"{"jsonrpc":"2.0","id":9,"method":"read","params":{"path":"/a","offset":"0","length":10}}"#, -32602, .number("9")),
            (#"{"jsonrpc":"2.0","id":10,"method":"read","params":{"path":"/a","offset":0,"length":16777217}}"#, -32602, .number("10")),
            (#"{"jsonrpc":"2.0","id":11,"method":"open","params":{"protocol":"memory-test","mode":"both","config":{}}}"#, -32602, .number("11")),
            (#"{"jsonrpc":"2.0","id":12,"method":"open","params":{"protocol":"memory-test","mode":"importer","config":{"files":1}}}"#, -32602, .number("12")),
            (#"{"jsonrpc":"2.0","id":13,"method":"list"}"#, -32010, .number("13")),   // state: open first
            (#"{"jsonrpc":"2.0","id":14,"method":"open","params":{"protocol":"scaleway-instance","mode":"importer","config":{}}}"#, -32602, .number("14")),   // kind config
            (#"{"jsonrpc":"2.0","id":15,"method":"open","params":{"protocol":"nfs","mode":"importer","config":{}}}"#, -32009, .number("15")),
            (#"{"jsonrpc":"2.0","id":16,"method":"ping","params":{},"id":17}"#, -32700, .number("16")),   // duplicate key
        ]
        for (line, code, id) in cases {
            plugin.send(line)
            let answer = try plugin.nextMessage()
            #expect(answer.errorCode == code, "\(line) -> \(JSONWriter.string(answer))")
            #expect(answer["id"] == id, "\(line) -> \(JSONWriter.string(answer))")
            #expect(answer["jsonrpc"] == "2.0")
        }
        // Notifications, even unknown or malformed ones, are never answered; the next answer is the ping's.
        plugin.send(#"{"jsonrpc":"2.0","method":"nope"}"#)
        plugin.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":999}}"#)
        plugin.request(20, "open", openParams("importer", ["internal_read": "/hello.txt"]))
        #expect(try plugin.nextMessage()["id"] == 20)
        plugin.request(21, "read", ["path": "/hello.txt", "offset": 0, "length": 4])
        let internalFailure = try plugin.nextMessage()
        #expect(internalFailure.errorCode == -32603)
        #expect(internalFailure.errorKind == "internal")
        plugin.request(22, "read", ["path": "/missing", "offset": 0, "length": 4])
        let missing = try plugin.nextMessage()
        #expect(missing.errorCode == -32003)
        #expect(missing.errorKind == "not_found")
        #expect(missing["error"]?["data"]?["hint"]?.stringValue?.isEmpty == false)
        plugin.request(23, "write", ["path": "/a", "offset": 0, "data": "", "eof": true])
        let wrongMode = try plugin.nextMessage()
        #expect(wrongMode.errorCode == -32010)
        #expect(wrongMode["error"]?["message"]?.stringValue?.contains("exporter") == true)
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func invalidParamsNameTheFieldAndTheExpectedType() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", ["protocol": "memory-test", "mode": "importer", "config": ["zone": 3]])
        let answer = try plugin.nextMessage()
        #expect(answer.errorCode == -32602)
        #expect(answer["error"]?["message"] == "invalid params: \"config.zone\" must be a string, got number")
        #expect(answer["error"]?["data"]?["field"] == "config.zone")
        #expect(answer["error"]?["data"]?["expected"] == "a string")
        #expect(answer.errorKind == "invalid_params")
        plugin.request(2, "open", ["protocol": "memory-test", "mode": "importer", "config": [:], "extra": true])
        let unknown = try plugin.nextMessage()
        #expect(unknown["error"]?["data"]?["field"] == "extra")
        #expect(unknown.errorKind == "invalid_params")
        plugin.request(4, "ping", [1, 2])
        let notAnObject = try plugin.nextMessage()
        #expect(notAnObject.errorCode == -32602)
        #expect(notAnObject.errorKind == "invalid_params")
        #expect(notAnObject["error"]?["data"]?["field"] == "params")
        plugin.request(3, "open", openParams("importer", ["list_delay_ms": "soon"]))
        let config = try plugin.nextMessage()
        #expect(config.errorCode == -32602)
        #expect(config.errorKind == "config")
        #expect(config["error"]?["data"]?["field"] == "list_delay_ms")
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func readsNearTheLargestOffsetDoNotOverflow() throws {
        // Regression (bench/fuzz/regressions/jsonrpc-dispatch/memory-test-read-overflow).
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("importer", ["files": "/x:9223372036854775807"]))
        _ = try plugin.response(1)
        plugin.request(2, "read", ["path": "/x", "offset": .number("9223372036854775800"), "length": 16777216])
        let answer = try plugin.response(2)
        #expect(answer.result?["eof"] == true)
        #expect(try Base64.decode(try #require(answer.result?["data"]?.stringValue)).count == 7)
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func oversizedLineIsSkippedAnsweredWithItsIDAndServingGoesOn() throws {
        let plugin = try PluginProcess(testConnector: true)
        let head = Array(#"{"jsonrpc":"2.0","id":99,"method":"write","params":{"path":"/x","offset":0,"data":""#.utf8)
        var line = head + [UInt8](repeating: UInt8(ascii: "A"), count: (64 << 20) + 16 - head.count)
        line += Array("\"}}\r\n".utf8)
        plugin.write(line)
        plugin.request(100, "ping")
        let skipped = try plugin.nextMessage(timeout: 60)
        #expect(skipped.errorCode == -32600)
        #expect(skipped["id"] == 99)
        #expect(skipped["error"]?["message"]?.stringValue?.contains("maximum message size") == true)
        let next = try plugin.nextMessage()
        #expect(next["id"] == 100)
        #expect(next.errorCode == -32010)   // ping before open: the state error, so the line was parsed
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }
}
