import Foundation
import JSONRPC
import Testing

/// The engine in-process over real pipes: framing at every split point,
/// CRLF, blank lines, detached strings, ordering, cancellation.
@Suite(.serialized) struct ConnectionFramingTests {
    /// Runs one connection over pipes, feeding `input` and returning every output line.
    static func serve(_ input: [UInt8], methods: MethodTable, readChunkSize: Int = 1 << 20,
                      maxMessageSize: Int = 1 << 20) async throws -> [String] {
        let stdin = Pipe()
        let stdout = Pipe()
        var configuration = JSONRPCConnection.Configuration()
        configuration.readChunkSize = readChunkSize
        configuration.maxMessageSize = maxMessageSize
        configuration.handlesSignals = false
        configuration.endOfInputGrace = .seconds(10)
        let connection = JSONRPCConnection(input: stdin.fileHandleForReading.fileDescriptor,
                                           output: stdout.fileHandleForWriting.fileDescriptor,
                                           methods: methods, configuration: configuration)
        // Blocking reads stay off the cooperative pool, which the engine needs.
        let collected = ThreadResult { stdout.fileHandleForReading.readDataToEndOfFile() }
        let writer = Thread {
            stdin.fileHandleForWriting.write(Data(input))
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let reason = await connection.run()
        #expect(reason == .endOfInput)
        await connection.output.close()
        try stdout.fileHandleForWriting.close()
        let data = await collected.value
        try stdin.fileHandleForReading.close()
        return String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .dropLast().map(String.init)
    }

    static var echoMethods: MethodTable {
        var table = MethodTable()
        table.register("echo") { request in .value(request.params.value ?? .null) }
        table.register("size") { request in
            let bytes = try request.base64Param("data")
            return .value(["bytes": .int(bytes.count)])
        }
        return table
    }

    @Test func everySplitPointOfASmallSessionGivesTheSameAnswers() async throws {
        let session = Array(("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"echo\",\"params\":{\"s\":\"h\u{e9}llo \u{1F600}\"}}\r\n"
            + "\n   \n"
            + "{\"jsonrpc\":\"2.0\",\"id\":\"two\",\"method\":\"echo\",\"params\":[1,2]}\n"
            + "oops\n"
            + "{\"jsonrpc\":\"2.0\",\"method\":\"echo\"}\n"
            + "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"size\",\"params\":{\"data\":\"QUJDRA==\"}}").utf8)
        let expected = [
            #"{"jsonrpc":"2.0","id":1,"result":{"s":"héllo 😀"}}"#,
            #"{"jsonrpc":"2.0","id":"two","result":[1,2]}"#,
            #"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error: unexpected 'o': expected a value at byte 0; send one JSON object per line","data":{"offset":0}}}"#,
            #"{"jsonrpc":"2.0","id":3,"result":{"bytes":4}}"#,
        ].sorted()
        for chunk in 1...session.count {
            let lines = try await Self.serve(session, methods: Self.echoMethods, readChunkSize: chunk)
            #expect(lines.sorted() == expected, "read chunk size \(chunk)")
        }
    }

    @Test func longStringsAreDecodedFromTheLineBufferAtAnySplit() async throws {
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        func line(_ id: Int) -> [UInt8] {
            Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":\"size\",\"params\":{\"data\":\"\(Base64.encodeToString(payload))\"}}\n".utf8)
        }
        for chunk in [1 << 20, 65_536, 4097, 1000, 7] {
            let lines = try await Self.serve(line(8) + line(9), methods: Self.echoMethods, readChunkSize: chunk)
            #expect(lines.sorted() == [#"{"jsonrpc":"2.0","id":8,"result":{"bytes":300000}}"#,
                                       #"{"jsonrpc":"2.0","id":9,"result":{"bytes":300000}}"#], "chunk \(chunk)")
        }
        let bad = Array("{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"size\",\"params\":{\"data\":\"\(String(repeating: "QUJD", count: 2000))*===\"}}\n".utf8)
        let answer = try await Self.serve(bad, methods: Self.echoMethods)
        #expect(answer.count == 1)
        #expect(answer[0].contains("-32602") && answer[0].contains("\"field\":\"data\""))
    }

    @Test func longStringIDsAreEchoedNotDetached() async throws {
        // Regression (bench/fuzz/regressions/jsonrpc-dispatch/long-plain-string-id-answered-empty).
        let id = String(repeating: "a", count: 5000)
        let line = Array("{\"jsonrpc\":\"2.0\",\"id\":\"\(id)\",\"method\":\"echo\",\"params\":{\"s\":\"x\"}}\n".utf8)
        let lines = try await Self.serve(line, methods: Self.echoMethods)
        #expect(lines == ["{\"jsonrpc\":\"2.0\",\"id\":\"\(id)\",\"result\":{\"s\":\"x\"}}"])
    }

    @Test func oversizedLinesAreSkippedWhateverTheChunking() async throws {
        let big = Array("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"echo\",\"params\":{\"s\":\"\(String(repeating: "x", count: 3000))\"}}\n".utf8)
        let small = Array("{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"echo\",\"params\":{}}\n".utf8)
        for chunk in [1, 100, 1999, 2000, 2001, 65_536] {
            let lines = try await Self.serve(big + small + big, methods: Self.echoMethods, readChunkSize: chunk, maxMessageSize: 2000)
            #expect(lines.count == 3, "chunk \(chunk)")
            let parsed = try lines.map { try JSONParser.parse($0) }
            #expect(parsed.filter { $0["error"]?["code"] == -32600 && $0["id"] == 5 }.count == 2, "chunk \(chunk)")
            #expect(parsed.contains { $0["id"] == 6 && $0["result"] != nil }, "chunk \(chunk)")
        }
    }

    @Test func barriersSerialLanesAndCancellationOrderWork() async throws {
        let log = LogBox()
        var table = MethodTable()
        table.register("barrier", order: .barrier) { _ in log.append("barrier"); return .value(true) }
        table.register("slow") { request in
            try await Task.sleep(for: .seconds(600))
            return .value(true)
        }
        table.register("lane", order: .serial(lane: "w")) { request in
            let n = request.params["n"]?.int64Value ?? -1
            if n == 0 { try? await Task.sleep(for: .milliseconds(50)) }   // the first one is slower: order must hold
            log.append("lane\(n)")
            return .value(.int(n))
        }
        var session = ""
        session += #"{"jsonrpc":"2.0","id":1,"method":"slow"}"# + "\n"
        for n in 0..<5 { session += #"{"jsonrpc":"2.0","id":\#(10 + n),"method":"lane","params":{"n":\#(n)}}"# + "\n" }
        session += #"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":1}}"# + "\n"
        session += #"{"jsonrpc":"2.0","id":2,"method":"barrier"}"# + "\n"
        let lines = try await Self.serve(Array(session.utf8), methods: table)
        #expect(log.items == ["lane0", "lane1", "lane2", "lane3", "lane4", "barrier"])
        let cancelled = try lines.map { try JSONParser.parse($0) }.first { $0["id"] == 1 }
        #expect(cancelled?["error"]?["code"] == -32800)
        #expect(lines.last == #"{"jsonrpc":"2.0","id":2,"result":true}"#)
    }
}

/// A thread-safe list for observing execution order.
final class LogBox: @unchecked Sendable {
    // Invariant: `storage` is only touched with `lock` held.
    private let lock = NSLock()
    private var storage: [String] = []
    func append(_ item: String) { lock.lock(); storage.append(item); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return storage }
}

/// Runs a blocking closure on its own thread; `value` awaits its result.
final class ThreadResult<T: Sendable>: @unchecked Sendable {
    // Invariant: `result` and `waiter` are only touched with `lock` held.
    private let lock = NSLock()
    private var result: T?
    private var waiter: CheckedContinuation<T, Never>?

    init(_ body: @escaping @Sendable () -> T) {
        Thread { [self] in
            let value = body()
            lock.lock()
            if let waiter { lock.unlock(); waiter.resume(returning: value); return }
            result = value
            lock.unlock()
        }.start()
    }

    var value: T {
        get async {
            await withCheckedContinuation { continuation in
                lock.lock()
                if let result { lock.unlock(); continuation.resume(returning: result); return }
                waiter = continuation
                lock.unlock()
            }
        }
    }
}
