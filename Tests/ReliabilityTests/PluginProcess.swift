import Foundation
import Synchronization

/// The BUILT `plakar-scaleway` binary driven over pipes as Plakar would
/// (line-delimited JSON-RPC 2.0 on stdin/stdout), recording everything it
/// emits: the raw stdout bytes, every notification, and stderr (to a file),
/// so the canary test can scan all of it. Adapted from ConnectorTests.
///
/// `@unchecked Sendable`: mutable state lives behind `state`; `process`,
/// the pipes and the paths are set once in init.
final class PluginProcess: @unchecked Sendable {
    /// A decoded JSON message (immutable once parsed).
    struct Message: @unchecked Sendable { let object: [String: Any] }

    /// `@unchecked Sendable`: `data` is an immutable parsed JSON tree.
    struct RPCError: Error, CustomStringConvertible, @unchecked Sendable {
        var code: Int
        var message: String
        var data: [String: Any]
        var description: String { "RPC error \(code): \(message) \(data)" }
    }

    private struct State {
        var nextID = 0
        var waiting: [Int: CheckedContinuation<Message, any Error>] = [:]
        var early: [Int: Message] = [:]
        var notifications: [Message] = []
        var rawStdout = Data()
        var closed = false
    }

    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let state = Mutex(State())
    /// Where the plugin's stderr (its logs) goes.
    let stderrPath: String

    /// The binary next to the test bundle (`.build/<config>/plakar-scaleway`).
    static var binaryPath: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for dir in [Bundle.main.bundleURL.deletingLastPathComponent().path, root.path + "/.build/debug", root.path + "/.build/release"] {
            let path = dir + "/plakar-scaleway"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return root.path + "/.build/debug/plakar-scaleway"
    }

    init(logLevel: String = "warning", stderrPath: String? = nil) throws {
        self.stderrPath = stderrPath ?? NSTemporaryDirectory() + "reliability-stderr-" + UUID().uuidString
        FileManager.default.createFile(atPath: self.stderrPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: Self.binaryPath)
        process.standardInput = input
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: self.stderrPath))
        var env = ProcessInfo.processInfo.environment
        env["PLAKAR_SCALEWAY_LOG"] = logLevel
        process.environment = env
        try process.run()
        let handle = output.fileHandleForReading
        Thread { [self] in readLoop(handle) }.start()
    }

    var pid: Int32 { process.processIdentifier }

    private func readLoop(_ handle: FileHandle) {
        let fd = handle.fileDescriptor
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        var lineStart = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var scanFrom = buffer.count
            buffer.append(contentsOf: chunk[0..<n])
            state.withLock { $0.rawStdout.append(contentsOf: chunk[0..<n]) }
            while true {
                let found: Int? = buffer.withUnsafeBytes { raw in
                    guard scanFrom < raw.count, let p = memchr(raw.baseAddress! + scanFrom, 10, raw.count - scanFrom) else { return nil }
                    return raw.baseAddress!.distance(to: UnsafeRawPointer(p))
                }
                guard let newline = found else { break }
                let line = Data(buffer[lineStart..<newline])
                lineStart = newline + 1
                scanFrom = lineStart
                if let object = try? JSONSerialization.jsonObject(with: line) as? [String: Any] { deliver(object) }
            }
            if lineStart > 0 {
                buffer.removeFirst(lineStart)
                lineStart = 0
            }
        }
        let pending = state.withLock { s -> [CheckedContinuation<Message, any Error>] in
            s.closed = true
            defer { s.waiting = [:] }
            return Array(s.waiting.values)
        }
        for c in pending { c.resume(throwing: RPCError(code: 0, message: "plugin closed stdout", data: [:])) }
    }

    private func deliver(_ message: [String: Any]) {
        let wrapped = Message(object: message)
        guard let id = message["id"] as? Int else {
            state.withLock { $0.notifications.append(wrapped) }
            return
        }
        let waiter = state.withLock { s -> CheckedContinuation<Message, any Error>? in
            if let c = s.waiting.removeValue(forKey: id) { return c }
            s.early[id] = wrapped
            return nil
        }
        waiter?.resume(returning: wrapped)
    }

    var notifications: [[String: Any]] { state.withLock { $0.notifications }.map(\.object) }
    /// Every byte the plugin wrote on stdout so far.
    var rawStdout: Data { state.withLock { $0.rawStdout } }
    /// The plugin's stderr so far.
    var stderr: Data { (try? Data(contentsOf: URL(fileURLWithPath: stderrPath))) ?? Data() }

    /// Sends a request and waits (at most `timeout` seconds) for its result.
    func call(_ method: String, _ params: [String: Any] = [:], timeout: Double = 120) async throws -> [String: Any] {
        let id = state.withLock { s -> Int in s.nextID += 1; return s.nextID }
        let line = try JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "id": id, "method": method, "params": params])
        let message: [String: Any] = try await withThrowingTaskGroup(of: Message.self) { group in
            group.addTask {
                try await withCheckedThrowingContinuation { continuation in
                    let ready = self.state.withLock { s -> Message? in
                        if let early = s.early.removeValue(forKey: id) { return early }
                        if s.closed { return Message(object: ["error": ["code": 0, "message": "plugin closed stdout"]]) }
                        s.waiting[id] = continuation
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                throw RPCError(code: 0, message: "no answer to \(method) within \(timeout) s", data: [:])
            }
            self.input.fileHandleForWriting.write(line + Data([10]))
            let first = try await group.next()!
            group.cancelAll()
            return first.object
        }
        if let error = message["error"] as? [String: Any] {
            throw RPCError(code: error["code"] as? Int ?? 0, message: error["message"] as? String ?? "",
                           data: error["data"] as? [String: Any] ?? [:])
        }
        return message["result"] as? [String: Any] ?? [:]
    }

    /// Sends a request without waiting for its answer.
    func send(_ method: String, _ params: [String: Any] = [:]) throws {
        let id = state.withLock { s -> Int in s.nextID += 1; return s.nextID }
        let line = try JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "id": id, "method": method, "params": params])
        input.fileHandleForWriting.write(line + Data([10]))
    }

    /// SIGKILL: no cleanup can run. Waits for the process to be gone.
    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Closes stdin and waits for the process to exit; returns its status.
    @discardableResult
    func finish() -> Int32 {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(atPath: stderrPath)
    }
}
