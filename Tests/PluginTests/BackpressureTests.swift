import Foundation
import PluginTestSupport
import JSONRPC
import Testing

/// Memory stays bounded when the host does not drain stdout, through the
/// real binary and the memory-test connector.
@Suite(.serialized) struct BackpressureTests {
    static let chunk = 16 << 20
    static let reads = 24
    /// The engine's default response budget (JSONRPCConnection.Configuration.maxHeldResponseBytes).
    static let responseBudget = 64 << 20

    /// Sanitized builds multiply resident memory (shadow memory, quarantine):
    /// `.ci/sanitizers` sets this so only the memory figure is not asserted.
    static let sanitized = ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_SANITIZER"] != nil

    /// 24 concurrent 16 MiB reads while nothing reads stdout. Without a
    /// response budget every read's 22 MiB line is produced and queued
    /// (about 540 MiB, plus the raw chunks); with it, reads beyond the budget
    /// wait before producing anything. While saturated, a waiting read is
    /// cancelled and stdin is closed: both take effect, and once the host
    /// drains stdout every request is answered and the plugin exits 0.
    @Test func undrainedReadsStayWithinTheResponseBudgetAndCancelAndEndOfInputStillWork() throws {
        let plugin = try PluginProcess(arguments: ["--eof-grace", "600"],
                                       environment: ["PLAKAR_SCALEWAY_TEST_CONNECTOR": "1", "PLAKAR_SCALEWAY_LOG": "debug"],
                                       drainsOutput: false)
        let firstID = 100
        let started = ContinuousClock.now
        plugin.request(1, "open", openParams("importer", ["files": "/big.bin:\(Self.chunk * Self.reads)"]))
        for i in 0..<Self.reads {
            plugin.request(firstID + i, "read", ["path": "/big.bin", "offset": .int(i * Self.chunk), "length": .int(Self.chunk)])
        }

        // Saturated: reads are waiting for room (the engine logs each one).
        let waitingIDs = try plugin.waitForStderr(timeout: 300, "read waiting for the response budget") { text -> [Int]? in
            let ids = Self.waitingRequestIDs(in: text)
            return ids.count >= Self.reads - 3 ? ids : nil
        }
        let cancelled = try #require(waitingIDs.max())
        plugin.cancel(cancelled)
        _ = try plugin.waitForStderr(timeout: 60, "cancellation of \(cancelled)") { $0.contains("cancelling request \(cancelled)") ? true : nil }
        plugin.closeInput()
        _ = try plugin.waitForStderr(timeout: 60, "shutdown at end of input") { $0.contains("shutting down: end of input") ? true : nil }

        let saturated = ContinuousClock.now - started
        let memory = try plugin.memory()
        let unbounded = Self.reads * Base64.encodedCount(Self.chunk)
        let bound = Self.responseBudget + 2 * Self.chunk + (64 << 20)   // budget + raw chunks being encoded + the process itself
        print("backpressure: \(waitingIDs.count) reads waiting; plugin RSS \(memory.resident >> 20) MiB, peak \(memory.peak >> 20) MiB (bound \(bound >> 20) MiB, queued responses alone without a budget: \(unbounded >> 20) MiB)")
        if !Self.sanitized {
            #expect(memory.peak < bound, "peak RSS \(memory.peak >> 20) MiB while stdout was not drained")
        }

        // The host drains stdout: everything is answered, then the plugin exits.
        plugin.startDrainingOutput()
        #expect(try plugin.nextMessage(timeout: 60)["result"]?["origin"] == "memory-test")
        var answered = Set<Int>()
        for _ in 0..<Self.reads {
            let line = try plugin.nextLine(timeout: 300)
            let id = try #require(Self.responseID(line), "unexpected line: \(line.prefix(200))")
            #expect(answered.insert(id).inserted, "request \(id) answered twice")
            if id == cancelled {
                let message = try JSONParser.parse(line)
                #expect(message.errorKind == "cancelled")
                #expect(message.errorCode == -32008)
            } else {
                try Self.checkData(line, id: id, offset: (id - firstID) * Self.chunk)
            }
        }
        #expect(answered == Set(firstID..<(firstID + Self.reads)))
        #expect(try plugin.remainingLines(timeout: 60).isEmpty)
        #expect(try plugin.waitForExit(timeout: 60) == 0)
        print("backpressure: saturated after \(saturated), all answered and exited after \(ContinuousClock.now - started)")
    }

    /// Ids of the requests the engine logged as waiting for the response budget.
    static func waitingRequestIDs(in text: String) -> [Int] {
        text.split(separator: "\n").compactMap { line -> Int? in
            guard let range = line.range(of: "): request ") else { return nil }
            let rest = line[range.upperBound...]
            guard rest.contains(" waits for ") else { return nil }
            return Int(rest.prefix { $0.isNumber })
        }
    }

    /// The numeric id of a response line, read from its fixed prefix (the
    /// data lines are 22 MiB: not parsed whole).
    static func responseID(_ line: String) -> Int? {
        let prefix = #"{"jsonrpc":"2.0","id":"#
        guard line.hasPrefix(prefix) else { return nil }
        return Int(String(decoding: line.utf8.dropFirst(prefix.utf8.count).prefix { $0 >= 0x30 && $0 <= 0x39 }, as: UTF8.self))
    }

    /// Checks a data answer's exact shape and size, and the pattern at its start.
    static func checkData(_ line: String, id: Int, offset: Int) throws {
        let head = #"{"jsonrpc":"2.0","id":\#(id),"result":{"data":""#
        let tail = #"","eof":\#(id == 100 + reads - 1 ? "true" : "false")}}"#
        #expect(line.hasPrefix(head), "response \(id): \(line.prefix(120))")
        #expect(line.hasSuffix(tail), "response \(id) ends with \(line.suffix(40))")
        #expect(line.utf8.count == head.utf8.count + Base64.encodedCount(chunk) + tail.utf8.count, "response \(id) size")
        let sample = Array(line.utf8.dropFirst(head.utf8.count).prefix(4 * 1024))
        let decoded = try Base64.decode(String(decoding: sample, as: UTF8.self))
        #expect(decoded == patternBytes(offset: offset, count: decoded.count), "response \(id) content")
    }
}
