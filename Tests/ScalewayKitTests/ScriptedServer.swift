import Foundation
@testable import ScalewayKit

/// A `scripted_server.py` process: scripted API answers and fault-injecting
/// objects, with a log of every request it received.
final class ScriptedServer: @unchecked Sendable {
    // @unchecked Sendable invariant: all fields are set in init and immutable.
    let directory: String
    let port: Int
    let process: Process
    let tls: Bool

    /// Runs scripted_server.py with the system's ephemeral port (no race
    /// with another process for a port picked in advance) and prints that
    /// port on stdout once it serves (after the TLS wrap), so readiness is an
    /// event read from a pipe, not a polled connect.
    private static let launcher = """
        import http.server, runpy, sys
        class Announced(http.server.ThreadingHTTPServer):
            def serve_forever(self, *args, **kwargs):
                print(self.server_address[1], flush=True)
                super().serve_forever(*args, **kwargs)
        http.server.ThreadingHTTPServer = Announced
        sys.argv = sys.argv[1:]
        runpy.run_path(sys.argv[0], run_name="__main__")
        """

    /// How long the server may take to start: generous, because sanitized
    /// builds and a loaded machine slow everything (the wait ends as soon as
    /// the port is announced, or at once if the server dies).
    static let startTimeout: Duration = .seconds(120)

    struct Logged: Decodable {
        var method: String
        var path: String
        var query: String
        var headers: [String: String]
        var body: String

        func header(_ name: String) -> String? { headers.first { $0.key.lowercased() == name.lowercased() }?.value }
    }

    /// Starts the server with `plan` (the JSON described in scripted_server.py).
    /// - Parameter tls: serve HTTPS with a certificate from a throwaway CA (``caFile``).
    init(plan: [String: Any], tls: Bool = false) async throws {
        directory = NSTemporaryDirectory() + "scripted-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let planData = try JSONSerialization.data(withJSONObject: plan)
        try planData.write(to: URL(fileURLWithPath: "\(directory)/plan.json"))
        FileManager.default.createFile(atPath: "\(directory)/log.jsonl", contents: nil)
        var arguments = ["\(directory)/plan.json", "\(directory)/log.jsonl"]
        self.tls = tls
        if tls {
            _ = try await TestSupport.run("sh", [TestSupport.script("make_test_ca.sh"), "\(directory)/tls"])
            arguments += ["\(directory)/tls/server.pem", "\(directory)/tls/server.key"]
        }
        let child = Process()
        process = child
        child.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        child.arguments = ["python3", "-c", Self.launcher, TestSupport.script("scripted_server.py"), "0"] + arguments
        let announcements = Pipe()
        let stderrPath = "\(directory)/stderr.log"
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        child.standardOutput = announcements
        child.standardError = FileHandle(forWritingAtPath: stderrPath)
        try child.run()
        try? announcements.fileHandleForWriting.close()
        let reading = announcements.fileHandleForReading
        do {
            port = try await BlockingWork.run { () throws -> Int in
                defer { try? reading.close() }
                return try Self.readAnnouncedPort(reading.fileDescriptor, timeout: Self.startTimeout) {
                    let log = (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? ""
                    return "scripted_server.py \(child.isRunning ? "still running" : "exited"): \(log.suffix(2000))"
                }
            }
        } catch {
            kill(child.processIdentifier, SIGKILL)
            Thread.detachNewThread { child.waitUntilExit() }
            throw error
        }
    }

    /// Reads the port line from `fd`, waiting with poll(2) until it arrives,
    /// the server closes its stdout (it died) or `timeout` passes.
    private static func readAnnouncedPort(_ fd: Int32, timeout: Duration, state: () -> String) throws -> Int {
        let deadline = ContinuousClock.now + timeout
        var text: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64)
        while !text.contains(0x0A) {
            let left = deadline - ContinuousClock.now
            let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
            guard ms > 0 else { throw TestFailure("no port announced within \(timeout); \(state())") }
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, ms)
            if ready < 0 && errno == EINTR { continue }
            guard ready > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TestFailure("the server ended before serving; \(state())") }
            text += buffer[0..<n]
        }
        let line = String(decoding: text.prefix { $0 != 0x0A }, as: UTF8.self)
        guard let port = Int(line), port > 0 else { throw TestFailure("unexpected announcement \"\(line)\"; \(state())") }
        return port
    }

    var baseURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }
    var caFile: String { "\(directory)/tls/ca.pem" }
    var rogueCAFile: String { "\(directory)/tls/rogue-ca.pem" }

    /// The requests received so far.
    func log() throws -> [Logged] {
        let text = try String(contentsOfFile: "\(directory)/log.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Logged.self, from: Data($0.utf8)) }
    }

    /// Kills the server with SIGKILL (Foundation's `Process` may start
    /// children with SIGTERM blocked) and reaps it on a dedicated thread.
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            let process = process
            Thread.detachNewThread { process.waitUntilExit() }
        }
        removeDirectoryInBackground(directory)
    }

    deinit { stop() }

    /// The bytes scripted_server.py serves for an object with `seed`.
    static func content(seed: Int, range: Range<Int>) -> [UInt8] {
        range.map { UInt8(($0 * 31 + seed) % 251) }
    }
}
