import Foundation
import JSONRPC

/// The BUILT `plakar-scaleway` binary driven over pipes, as Plakar (or
/// refhost) would: line-delimited JSON-RPC 2.0 on stdin/stdout.
///
/// Two levels of use, on one reader:
/// - request level, ``call(_:_:timeout:)``: each request gets an id, and the
///   line that answers it resumes the caller waiting for it;
/// - line level (the protocol tests), ``send(_:)-(String)``, ``nextLine(timeout:)``,
///   ``response(_:timeout:)``: every line that answers no ``call`` is queued in
///   order and recorded in ``traffic``.
///
/// Lines answering a ``call`` are neither queued nor recorded: whole backup
/// sessions move gigabytes through them. stderr is always captured
/// (``stderr``, ``waitForStderr(timeout:_:_:)``); every stdout byte only when
/// asked (``rawStdout``, for the secret canary). Every wait is bounded and
/// waits on a real event (a line arriving, the process exiting).
///
/// `@unchecked Sendable`: the mutable state below `condition` is only read or
/// written with `condition` locked; the process and pipes are set once in init;
/// ``held`` belongs to the single test thread that reads line by line.
public final class PluginProcess: @unchecked Sendable {
    /// A decoded JSON message. `@unchecked Sendable`: an immutable parsed JSON tree.
    public struct Message: @unchecked Sendable {
        public let object: [String: Any]
        public init(object: [String: Any]) { self.object = object }
    }

    /// A JSON-RPC error answer (or a failure of the exchange itself, code 0).
    /// `@unchecked Sendable`: `data` is an immutable parsed JSON tree.
    public struct RPCError: Error, CustomStringConvertible, @unchecked Sendable {
        public var code: Int
        public var message: String
        public var data: [String: Any]
        public var kind: String? { data["kind"] as? String }
        public var description: String { "RPC error \(code): \(message) \(data)" }
        public init(code: Int, message: String, data: [String: Any]) {
            self.code = code
            self.message = message
            self.data = data
        }
    }

    /// A bounded wait that ran out, or the stream it waited on that ended.
    public struct Timeout: Error, CustomStringConvertible {
        public var description: String
    }

    public static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built binary: `$PLAKAR_SCALEWAY_BINARY`, else next to the test
    /// runner (or up to three folders above it), else `.build/debug`.
    public static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_BINARY"] { return URL(fileURLWithPath: path) }
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = dir.appendingPathComponent("plakar-scaleway")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            dir = dir.deletingLastPathComponent()
        }
        return repositoryRoot.appendingPathComponent(".build/debug/plakar-scaleway")
    }()

    private let process = Process()
    private let stdinPipe = Pipe()
    private let stdoutPipe = Pipe()
    private let stderrPipe = Pipe()
    private let recordsStdout: Bool
    /// One request line at a time on stdin (concurrent ``call``s).
    private let writeLock = NSLock()

    private let condition = NSCondition()
    // Guarded by `condition`:
    private var lines: [String] = []
    private var recorded: [(sent: Bool, line: String)] = []
    private var stdoutEnded = false
    private var stdoutBytes = Data()
    private var stderrData = Data()
    private var stderrEnded = false
    private var nextID = 0
    /// Ids of the ``call``s not answered yet; their answers are never queued.
    private var claimed: Set<Int> = []
    private var answers: [Int: Message] = [:]
    private var waiters: [Int: CheckedContinuation<Message, any Error>] = [:]

    /// Messages read while looking for another one (line level).
    public var held: [JSONValue] = []

    /// - Parameters:
    ///   - arguments: command-line arguments of the plugin.
    ///   - environment: added to (or replacing) this process's environment.
    ///   - logLevel: `PLAKAR_SCALEWAY_LOG`; by default `warning` unless the
    ///     environment (this process's or `environment`) sets it.
    ///   - testConnector: `PLAKAR_SCALEWAY_TEST_CONNECTOR=1`, the memory-test connector.
    ///   - withoutReader: close our end of the plugin's stdout at once, as a
    ///     host that went away (its writes then meet EPIPE).
    ///   - drainsOutput: `false` leaves the plugin's stdout unread (a host
    ///     that does not drain it) until ``startDrainingOutput()``.
    ///   - recordsStdout: keep every stdout byte for ``rawStdout``.
    public init(arguments: [String] = [], environment: [String: String] = [:], logLevel: String? = nil,
                testConnector: Bool = false, withoutReader: Bool = false, drainsOutput: Bool = true,
                recordsStdout: Bool = false) throws {
        self.recordsStdout = recordsStdout
        process.executableURL = Self.binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PLAKAR_SCALEWAY_LOG"] = env["PLAKAR_SCALEWAY_LOG"] ?? "warning"
        if testConnector { env["PLAKAR_SCALEWAY_TEST_CONNECTOR"] = "1" }
        env.merge(environment) { $1 }
        if let logLevel { env["PLAKAR_SCALEWAY_LOG"] = logLevel }
        process.environment = env
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        try process.run()
        if withoutReader {
            try stdoutPipe.fileHandleForReading.close()
            condition.lock(); stdoutEnded = true; condition.unlock()
        } else if drainsOutput {
            startReader()
        }
        let errFD = stderrPipe.fileHandleForReading.fileDescriptor
        Thread { [self] in
            // Incrementally, so tests can wait for a log line while the plugin runs.
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(errFD, $0.baseAddress!, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                condition.lock()
                stderrData.append(contentsOf: buffer[0..<n])
                condition.broadcast()
                condition.unlock()
            }
            condition.lock(); stderrEnded = true; condition.broadcast(); condition.unlock()
        }.start()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Starts reading the plugin's stdout (for `drainsOutput: false`).
    public func startDrainingOutput() { startReader() }

    private func startReader() {
        let outFD = stdoutPipe.fileHandleForReading.fileDescriptor
        Thread { [self] in readLoop(outFD) }.start()
    }

    private func readLoop(_ fd: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            if recordsStdout {
                condition.lock(); stdoutBytes.append(contentsOf: buffer[0..<n]); condition.unlock()
            }
            // Only the new bytes are scanned (frames of tens of MiB arrive in
            // many reads), with memchr and raw appends: this test code is built
            // unoptimised and must not be the bottleneck of 20 MiB frames.
            var newLines: [[UInt8]] = []
            buffer.withUnsafeBytes { raw in
                var start = 0
                while start < n, let found = memchr(raw.baseAddress! + start, 0x0A, n - start) {
                    let nl = UnsafeRawPointer(found) - raw.baseAddress!
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<nl]))
                    newLines.append(pending)
                    pending.removeAll(keepingCapacity: true)
                    start = nl + 1
                }
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<n]))
            }
            for line in newLines { deliver(line) }
        }
        if !pending.isEmpty { deliver(pending) }
        condition.lock()
        stdoutEnded = true
        let orphans = Array(waiters.values)
        waiters = [:]
        condition.broadcast()
        condition.unlock()
        for c in orphans { c.resume(throwing: RPCError(code: 0, message: "plugin closed stdout", data: [:])) }
    }

    /// Hands a line to the ``call`` it answers, or queues and records it.
    private func deliver(_ bytes: [UInt8]) {
        condition.lock()
        let anyClaims = !claimed.isEmpty
        condition.unlock()
        // A call claims its id before its request is written, so before any
        // line answering it can arrive: parsing is only needed while claims exist.
        var answer: (id: Int, message: Message)?
        if anyClaims, let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
           let id = object["id"] as? Int {
            answer = (id, Message(object: object))
        }
        condition.lock()
        var resume: (CheckedContinuation<Message, any Error>, Message)?
        if let answer, claimed.remove(answer.id) != nil {
            if let waiter = waiters.removeValue(forKey: answer.id) {
                resume = (waiter, answer.message)
            } else {
                answers[answer.id] = answer.message
            }
        } else {
            let line = String(decoding: bytes, as: UTF8.self)
            lines.append(line)
            recorded.append((false, line))
        }
        condition.broadcast()
        condition.unlock()
        if let (waiter, message) = resume { waiter.resume(returning: message) }
    }

    // MARK: Request level

    /// Sends a request and waits (at most `timeout` seconds) for its result;
    /// an error answer is thrown as ``RPCError``.
    public func call(_ method: String, _ params: [String: Any] = [:], timeout: Double = 120) async throws -> [String: Any] {
        let id = claimNextID()
        let line = try JSONSerialization.data(withJSONObject: ["jsonrpc": "2.0", "id": id, "method": method, "params": params])
        let message: [String: Any] = try await withThrowingTaskGroup(of: Message.self) { group in
            group.addTask { try await self.answer(to: id) }
            group.addTask {
                try await Task.sleep(for: .seconds(timeout))
                throw RPCError(code: 0, message: "no answer to \(method) within \(timeout) s", data: [:])
            }
            self.writeLine(Array(line))
            defer { group.cancelAll() }
            return try await group.next()!.object
        }
        if let error = message["error"] as? [String: Any] {
            throw RPCError(code: error["code"] as? Int ?? 0, message: error["message"] as? String ?? "",
                           data: error["data"] as? [String: Any] ?? [:])
        }
        return message["result"] as? [String: Any] ?? [:]
    }

    /// A new request id whose answer goes to its ``call``, never to the line queue.
    private func claimNextID() -> Int {
        condition.lock()
        defer { condition.unlock() }
        nextID += 1
        claimed.insert(nextID)
        return nextID
    }

    /// The line answering call `id`, once it arrives (or an error when
    /// stdout ends first, or the wait is cancelled).
    private func answer(to id: Int) async throws -> Message {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Message, any Error>) in
                condition.lock()
                let ready = answers.removeValue(forKey: id)
                let ended = stdoutEnded
                // Cancelled before this registration: `onCancel` found no waiter.
                let cancelled = Task.isCancelled
                if ready == nil && !ended && !cancelled { waiters[id] = continuation }
                condition.unlock()
                if let ready { continuation.resume(returning: ready) } else if cancelled {
                    continuation.resume(throwing: CancellationError())
                } else if ended {
                    continuation.resume(returning: Message(object: ["error": ["code": 0, "message": "plugin closed stdout"]]))
                }
            }
        } onCancel: {
            condition.lock()
            let waiter = waiters.removeValue(forKey: id)
            claimed.remove(id)
            condition.unlock()
            waiter?.resume(throwing: CancellationError())
        }
    }

    /// Every notification received so far, decoded.
    public var notifications: [[String: Any]] {
        condition.lock()
        let received = recorded.filter { !$0.sent }.map(\.line)
        condition.unlock()
        return received.compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  object["id"] == nil, object["method"] != nil else { return nil }
            return object
        }
    }

    /// Every byte the plugin wrote on stdout so far (`recordsStdout: true` only).
    public var rawStdout: Data {
        condition.lock(); defer { condition.unlock() }
        return stdoutBytes
    }

    /// The plugin's stderr so far.
    public var stderr: Data {
        condition.lock(); defer { condition.unlock() }
        return stderrData
    }

    /// SIGKILL: no cleanup can run. Waits for the process to be gone.
    public func kill() {
        _ = Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Closes stdin and waits for the process to exit; returns its status.
    @discardableResult
    public func finish() -> Int32 {
        closeInput()
        process.waitUntilExit()
        return process.terminationStatus
    }

    // MARK: Line level

    /// Every line sent with ``send(_:)-(String)`` and received outside a
    /// ``call``, in order.
    public var traffic: [(sent: Bool, line: String)] {
        condition.lock(); defer { condition.unlock() }
        return recorded
    }

    /// Writes raw bytes to the plugin's stdin.
    public func write(_ bytes: [UInt8]) {
        writeLock.lock()
        defer { writeLock.unlock() }
        let fd = stdinPipe.fileHandleForWriting.fileDescriptor
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    private func writeLine(_ bytes: [UInt8]) { write(bytes + [0x0A]) }

    /// Sends one line (a newline is added).
    public func send(_ line: String) {
        condition.lock(); recorded.append((true, line)); condition.unlock()
        writeLine(Array(line.utf8))
    }

    /// Sends a request built from a JSON value.
    public func send(_ message: JSONValue) { send(JSONWriter.string(message)) }

    public func request(_ id: Int, _ method: String, _ params: JSONValue? = nil) {
        var members: [(key: String, value: JSONValue)] = [("jsonrpc", "2.0"), ("id", .int(id)), ("method", .string(method))]
        if let params { members.append(("params", params)) }
        send(.object(members))
    }

    public func cancel(_ id: Int) { send(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": .int(id)]]) }

    public func closeInput() { try? stdinPipe.fileHandleForWriting.close() }

    /// Waits for the next queued line from stdout.
    public func nextLine(timeout: TimeInterval = 20) throws -> String {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while lines.isEmpty {
            if stdoutEnded { throw Timeout(description: "stdout ended while waiting for a line; stderr: \(String(decoding: stderrData, as: UTF8.self))") }
            if !condition.wait(until: deadline) { throw Timeout(description: "no line within \(timeout) s") }
        }
        return lines.removeFirst()
    }

    public func nextMessage(timeout: TimeInterval = 20) throws -> JSONValue {
        try JSONParser.parse(try nextLine(timeout: timeout))
    }

    /// Reads messages until the response to `id`; notifications and other
    /// responses seen on the way are kept in ``held``.
    public func response(_ id: Int, timeout: TimeInterval = 20) throws -> JSONValue {
        let deadline = Date(timeIntervalSinceNow: timeout)
        if let index = held.firstIndex(where: { $0["id"] == .int(id) }) { return held.remove(at: index) }
        while true {
            let message = try nextMessage(timeout: max(0.01, deadline.timeIntervalSinceNow))
            if message["id"] == .int(id) { return message }
            held.append(message)
        }
    }

    /// Reads until a notification with `method` arrives.
    public func notification(_ method: String, timeout: TimeInterval = 20) throws -> JSONValue {
        if let index = held.firstIndex(where: { $0["method"]?.stringValue == method }) { return held.remove(at: index) }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            let message = try nextMessage(timeout: max(0.01, deadline.timeIntervalSinceNow))
            if message["method"]?.stringValue == method { return message }
            held.append(message)
        }
    }

    /// Every remaining stdout line until the process closes it.
    public func remainingLines(timeout: TimeInterval = 20) throws -> [String] {
        var out: [String] = []
        while true {
            do { out.append(try nextLine(timeout: timeout)) } catch let error as Timeout {
                if error.description.hasPrefix("stdout ended") { return out }
                throw error
            }
        }
    }

    /// Waits until the plugin's stderr satisfies `predicate`; returns what
    /// `predicate` extracted from it.
    public func waitForStderr<T>(timeout: TimeInterval = 20, _ what: String, _ predicate: (String) -> T?) throws -> T {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let found = predicate(String(decoding: stderrData, as: UTF8.self)) { return found }
            if !condition.wait(until: deadline) {
                throw Timeout(description: "stderr showed no \(what) within \(timeout) s; stderr: \(String(decoding: stderrData.suffix(4000), as: UTF8.self))")
            }
        }
    }

    /// What the plugin wrote to stderr so far (all of it once it has exited).
    public var stderrText: String {
        let exited = !process.isRunning
        condition.lock(); defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: 10)
        while exited && !stderrEnded && condition.wait(until: deadline) {}
        return String(decoding: stderrData, as: UTF8.self)
    }

    /// The plugin's resident set size and its peak so far, in bytes
    /// (VmRSS and VmHWM of /proc/<pid>/status).
    public func memory() throws -> (resident: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// Waits for the process to exit; returns its exit status. Throws when it
    /// does not exit in time, or when it died of a signal.
    public func waitForExit(timeout: TimeInterval = 20) throws -> Int32 {
        let exited = DispatchSemaphore(value: 0)
        let process = self.process
        Thread { process.waitUntilExit(); exited.signal() }.start()
        guard exited.wait(timeout: .now() + timeout) == .success else {
            process.terminate()
            throw Timeout(description: "the plugin did not exit within \(timeout) s")
        }
        guard process.terminationReason == .exit else {
            throw Timeout(description: "the plugin died of signal \(process.terminationStatus)")
        }
        return process.terminationStatus
    }

    public func signal(_ number: Int32) { _ = Foundation.kill(process.processIdentifier, number) }

    deinit {
        if process.isRunning { process.terminate() }
    }
}
