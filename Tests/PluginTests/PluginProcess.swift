import Foundation
import JSONRPC
import Testing

/// The real `plakar-scaleway` binary, driven over pipes.
///
/// Every line written and read is recorded (``traffic``) so tests can check
/// it against protocol/schema. Waits are bounded and wait on real events
/// (a line arriving, the process exiting), never on a fixed sleep.
final class PluginProcess: @unchecked Sendable {
    // Invariant: `lines`, `traffic`, `stdoutEnded` are guarded by `condition`.
    struct Timeout: Error, CustomStringConvertible {
        var description: String
    }

    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The built binary: `$PLAKAR_SCALEWAY_BINARY`, else next to the test bundle.
    static let binary: URL = {
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

    let process = Process()
    private let stdin = Pipe()
    private let stdout = Pipe()
    private let stderr = Pipe()
    private let condition = NSCondition()
    private var lines: [String] = []
    private var stdoutEnded = false
    private(set) var traffic: [(sent: Bool, line: String)] = []
    private var stderrData = Data()
    private var stderrEnded = false

    /// - Parameters:
    ///   - withoutReader: close our end of the plugin's stdout at once, as a
    ///     host that went away (its writes then meet EPIPE).
    ///   - drainsOutput: `false` leaves the plugin's stdout unread (a host
    ///     that does not drain it) until ``startDrainingOutput()``.
    init(arguments: [String] = [], environment: [String: String] = ["PLAKAR_SCALEWAY_TEST_CONNECTOR": "1"],
         withoutReader: Bool = false, drainsOutput: Bool = true) throws {
        process.executableURL = Self.binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PLAKAR_SCALEWAY_LOG"] = "warning"
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        if withoutReader {
            try stdout.fileHandleForReading.close()
            condition.lock(); stdoutEnded = true; condition.unlock()
        } else if drainsOutput {
            startReader()
        }
        let errFD = stderr.fileHandleForReading.fileDescriptor
        let errReader = Thread { [self] in
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
        }
        errReader.start()
    }

    /// Starts reading the plugin's stdout (for `drainsOutput: false`).
    func startDrainingOutput() { startReader() }

    /// Waits until the plugin's stderr satisfies `predicate`; returns what
    /// `predicate` extracted from it.
    func waitForStderr<T>(timeout: TimeInterval = 20, _ what: String, _ predicate: (String) -> T?) throws -> T {
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

    /// The plugin's resident set size and its peak so far, in bytes
    /// (VmRSS and VmHWM of /proc/<pid>/status).
    func memory() throws -> (resident: Int, peak: Int) {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        func field(_ name: String) -> Int {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    private func startReader() {
        let outFD = stdout.fileHandleForReading.fileDescriptor
        let reader = Thread { [self] in self.readLoop(outFD) }
        reader.start()
    }

    private func readLoop(_ fd: Int32) {
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            // Only the new bytes are scanned: frames of tens of MiB arrive in
            // many reads. memchr and raw appends: this test code is built
            // unoptimised and must not be the bottleneck of 20 MiB frames.
            var newLines: [String] = []
            buffer.withUnsafeBytes { raw in
                var start = 0
                while start < n, let found = memchr(raw.baseAddress! + start, 0x0A, n - start) {
                    let nl = UnsafeRawPointer(found) - raw.baseAddress!
                    pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<nl]))
                    newLines.append(String(decoding: pending, as: UTF8.self))
                    pending.removeAll(keepingCapacity: true)
                    start = nl + 1
                }
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start..<n]))
            }
            if !newLines.isEmpty {
                condition.lock()
                lines += newLines
                traffic += newLines.map { (false, $0) }
                condition.broadcast()
                condition.unlock()
            }
        }
        condition.lock()
        if !pending.isEmpty { lines.append(String(decoding: pending, as: UTF8.self)); traffic.append((false, String(decoding: pending, as: UTF8.self))) }
        stdoutEnded = true
        condition.broadcast()
        condition.unlock()
    }

    /// Writes raw bytes to the plugin's stdin.
    func write(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(stdin.fileHandleForWriting.fileDescriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    /// Sends one line (a newline is added).
    func send(_ line: String) {
        condition.lock(); traffic.append((true, line)); condition.unlock()
        write(Array((line + "\n").utf8))
    }

    /// Sends a request built from a JSON value.
    func send(_ message: JSONValue) { send(JSONWriter.string(message)) }

    func request(_ id: Int, _ method: String, _ params: JSONValue? = nil) {
        var members: [(key: String, value: JSONValue)] = [("jsonrpc", "2.0"), ("id", .int(id)), ("method", .string(method))]
        if let params { members.append(("params", params)) }
        send(.object(members))
    }

    func cancel(_ id: Int) { send(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": .int(id)]]) }

    func closeInput() { try? stdin.fileHandleForWriting.close() }

    /// Waits for the next line from stdout.
    func nextLine(timeout: TimeInterval = 20) throws -> String {
        let deadline = Date(timeIntervalSinceNow: timeout)
        condition.lock()
        defer { condition.unlock() }
        while lines.isEmpty {
            if stdoutEnded { throw Timeout(description: "stdout ended while waiting for a line; stderr: \(String(decoding: stderrData, as: UTF8.self))") }
            if !condition.wait(until: deadline) { throw Timeout(description: "no line within \(timeout) s") }
        }
        return lines.removeFirst()
    }

    func nextMessage(timeout: TimeInterval = 20) throws -> JSONValue {
        try JSONParser.parse(try nextLine(timeout: timeout))
    }

    /// Reads messages until the response to `id`; notifications and other
    /// responses seen on the way are appended to `skipped`.
    func response(_ id: Int, timeout: TimeInterval = 20) throws -> JSONValue {
        let deadline = Date(timeIntervalSinceNow: timeout)
        if let index = held.firstIndex(where: { $0["id"] == .int(id) }) { return held.remove(at: index) }
        while true {
            let message = try nextMessage(timeout: max(0.01, deadline.timeIntervalSinceNow))
            if message["id"] == .int(id) { return message }
            held.append(message)
        }
    }

    /// Messages read while looking for another one.
    var held: [JSONValue] = []

    /// Reads until a notification with `method` arrives.
    func notification(_ method: String, timeout: TimeInterval = 20) throws -> JSONValue {
        if let index = held.firstIndex(where: { $0["method"]?.stringValue == method }) { return held.remove(at: index) }
        let deadline = Date(timeIntervalSinceNow: timeout)
        while true {
            let message = try nextMessage(timeout: max(0.01, deadline.timeIntervalSinceNow))
            if message["method"]?.stringValue == method { return message }
            held.append(message)
        }
    }

    /// Every remaining stdout line until the process closes it.
    func remainingLines(timeout: TimeInterval = 20) throws -> [String] {
        var out: [String] = []
        while true {
            do { out.append(try nextLine(timeout: timeout)) } catch let error as Timeout {
                if error.description.hasPrefix("stdout ended") { return out }
                throw error
            }
        }
    }

    /// Waits for the process to exit; returns its status.
    func waitForExit(timeout: TimeInterval = 20) throws -> Int32 {
        let exited = DispatchSemaphore(value: 0)
        let process = self.process
        let waiter = Thread { process.waitUntilExit(); exited.signal() }
        waiter.start()
        guard exited.wait(timeout: .now() + timeout) == .success else {
            process.terminate()
            throw Timeout(description: "the plugin did not exit within \(timeout) s")
        }
        #expect(process.terminationReason == .exit, "the plugin died of a signal")
        return process.terminationStatus
    }

    func signal(_ number: Int32) { kill(process.processIdentifier, number) }

    /// What the plugin wrote to stderr so far (all of it once it has exited).
    var stderrText: String {
        let exited = !process.isRunning
        condition.lock(); defer { condition.unlock() }
        let deadline = Date(timeIntervalSinceNow: 10)
        while exited && !stderrEnded && condition.wait(until: deadline) {}
        return String(decoding: stderrData, as: UTF8.self)
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

extension JSONValue {
    /// `error.code` of a response.
    var errorCode: Int? { self["error"]?["code"]?.int64Value.map(Int.init) }
    var errorKind: String? { self["error"]?["data"]?["kind"]?.stringValue }
    var result: JSONValue? { self["result"] }
}

/// A fresh temporary file path (not created).
func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("plakar-scaleway-\(UUID().uuidString)-\(name)").path
}

/// The memory-test open request params.
func openParams(_ mode: String = "importer", _ config: [String: String] = [:]) -> JSONValue {
    var members: [(key: String, value: JSONValue)] = [("location", "memory-test://")]
    for (k, v) in config.sorted(by: { $0.key < $1.key }) { members.append((k, .string(v))) }
    return ["protocol": "memory-test", "mode": .string(mode), "config": .object(members)]
}

/// The memory-test content pattern.
func patternBytes(offset: Int, count: Int) -> [UInt8] {
    (0..<count).map { UInt8(ascii: "a") + UInt8((offset + $0) % 26) }
}
