import Foundation
import PluginTestSupport
import JSONRPC
import Testing

/// Concurrency, cancellation and shutdown, through the real binary.
@Suite(.serialized) struct ConcurrencyTests {
    @Test func aSlowReadDoesNotHoldUpFastOnesAndCancellationAnswersIt() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("importer", ["files": "/slow.bin:100,/fast.bin:100", "slow_read": "/slow.bin:60000"]))
        #expect(try plugin.nextMessage()["result"]?["origin"] == "memory-test")
        plugin.request(2, "read", ["path": "/slow.bin", "offset": 0, "length": 10])
        for id in 3...6 {
            plugin.request(id, "read", ["path": "/fast.bin", "offset": .int(id), "length": 5])
        }
        plugin.request(7, "ping")
        var answered: [Int] = []
        for _ in 3...7 {
            let message = try plugin.nextMessage()
            let id = try #require(message["id"]?.int64Value)
            answered.append(Int(id))
            if id <= 6 {
                let data = try Base64.decode(try #require(message.result?["data"]?.stringValue))
                #expect(data == patternBytes(offset: Int(id), count: 5))
                #expect(message.result?["eof"] == false)
            }
        }
        #expect(answered.sorted() == [3, 4, 5, 6, 7])   // the slow read (2) is still running
        plugin.cancel(2)
        let cancelled = try plugin.nextMessage(timeout: 10)
        #expect(cancelled["id"] == 2)
        #expect(cancelled.errorCode == -32008)
        #expect(cancelled.errorKind == "cancelled")
        plugin.request(8, "close")
        #expect(try plugin.nextMessage()["result"]?["summary"]?["reads"] == 4)
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func responsesComeOutOfOrderWhenTheFirstRequestIsSlower() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("importer", ["files": "/slow.bin:10,/fast.bin:10", "slow_read": "/slow.bin:2000"]))
        _ = try plugin.nextMessage()
        plugin.request(2, "read", ["path": "/slow.bin", "offset": 0, "length": 10])
        plugin.request(3, "read", ["path": "/fast.bin", "offset": 0, "length": 10])
        #expect(try plugin.nextMessage()["id"] == 3)
        let slow = try plugin.nextMessage()
        #expect(slow["id"] == 2)
        #expect(slow.result?["eof"] == true)
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func cancellingASlowListStopsItAndReadsWaitingForItAreAnswered() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("importer", ["list_delay_ms": "600000"]))
        _ = try plugin.nextMessage()
        plugin.request(2, "list")
        _ = try plugin.notification("progress")        // the listing has started
        plugin.request(3, "read", ["path": "/hello.txt", "offset": 0, "length": 26])  // waits for the list
        plugin.request(4, "ping")                       // does not
        #expect(try plugin.response(4).result?["ok"] == true)
        plugin.cancel(2)
        let list = try plugin.response(2, timeout: 10)
        #expect(list.errorKind == "cancelled")
        let read = try plugin.response(3)
        #expect(try Base64.decode(try #require(read.result?["data"]?.stringValue)) == patternBytes(offset: 0, count: 26))
        plugin.request(5, "list")                       // the stream flag: one listing per session
        #expect(try plugin.response(5).errorKind == "state")
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func endOfInputLetsReceivedRequestsFinishThenClosesTheConnector() throws {
        let marker = temporaryPath("close-marker")
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let plugin = try PluginProcess(testConnector: true)
        // The whole session at once, then EOF: barriers keep it in order.
        plugin.request(1, "open", openParams("importer", ["close_marker": marker, "list_delay_ms": "50"]))
        plugin.request(2, "list")
        plugin.request(3, "read", ["path": "/hello.txt", "offset": 0, "length": 100])
        plugin.closeInput()
        let lines = try plugin.remainingLines()
        let messages = try lines.map { try JSONParser.parse($0) }
        let byID = Dictionary(messages.compactMap { m in m["id"]?.int64Value.map { ($0, m) } }, uniquingKeysWith: { a, _ in a })
        #expect(byID[1]?.result?["flags"] == ["stream"])
        #expect(byID[2]?.result?["records"]?.arrayValue?.count == 1)
        #expect(byID[3]?.result?["eof"] == true)
        #expect(try plugin.waitForExit() == 0)
        let text = try String(contentsOfFile: marker, encoding: .utf8)
        #expect(text == "importer closed reads=1 bytes=26\n")
    }

    @Test func endOfInputWithNoGraceCancelsWorkAndStillCleansUp() throws {
        let marker = temporaryPath("close-marker")
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let plugin = try PluginProcess(arguments: ["--eof-grace", "0"], testConnector: true)
        plugin.request(1, "open", openParams("importer", ["close_marker": marker, "list_delay_ms": "600000"]))
        _ = try plugin.response(1)
        plugin.request(2, "list")
        _ = try plugin.notification("progress")
        plugin.closeInput()
        #expect(try plugin.response(2).errorKind == "cancelled")
        #expect(try plugin.waitForExit() == 0)
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "importer closed reads=0 bytes=0\n")
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func terminationSignalCancelsWorkClosesTheConnectorAndExitsZero(signal: Int32) throws {
        let marker = temporaryPath("close-marker")
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("exporter", ["close_marker": marker, "write_delay_ms": "600000"]))
        _ = try plugin.response(1)
        plugin.request(2, "write", ["path": "/a.bin", "offset": 0, "data": "YWJj", "eof": false,
                                    "fileinfo": ["name": "a.bin", "size": 3, "mode": 420, "mod_time": "2026-12-04T10:00:00Z"]])
        _ = try plugin.notification("progress")   // the chunk has reached the connector
        plugin.request(3, "ping")
        _ = try plugin.response(3)     // pings are answered beside the write
        plugin.signal(signal)
        let write = try plugin.response(2)
        #expect(write.errorKind == "cancelled")
        #expect(write["error"]?["data"]?["path"] == "/a.bin")
        #expect(try plugin.waitForExit() == 0)
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "exporter closed files=0 bytes=0\n")
    }

    @Test func aClosedStdoutEndsThePluginCleanly() throws {
        let marker = temporaryPath("close-marker")
        defer { try? FileManager.default.removeItem(atPath: marker) }
        let plugin = try PluginProcess(testConnector: true, withoutReader: true)
        // open succeeds, then its answer meets EPIPE: the plugin cancels the
        // slow list, closes the connector and exits, though stdin stays open.
        plugin.request(1, "open", openParams("importer", ["close_marker": marker, "list_delay_ms": "600000"]))
        plugin.request(2, "list")
        #expect(try plugin.waitForExit() == 0)
        #expect(try String(contentsOfFile: marker, encoding: .utf8) == "importer closed reads=0 bytes=0\n")
    }
}
