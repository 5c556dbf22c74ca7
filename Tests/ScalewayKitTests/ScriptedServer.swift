import Foundation
@testable import ScalewayKit

/// A `scripted_server.py` process: scripted API answers and fault-injecting
/// objects, with a log of every request it received.
final class ScriptedServer: @unchecked Sendable {
    // @unchecked Sendable invariant: all fields are set in init and immutable.
    let directory: String
    let port: Int
    let process: ChildProcess
    let tls: Bool

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
            _ = try TestSupport.run("sh", [TestSupport.script("make_test_ca.sh"), "\(directory)/tls"])
            arguments += ["\(directory)/tls/server.pem", "\(directory)/tls/server.key"]
        }
        port = try TestSupport.freePort()
        process = try ChildProcess("python3", [TestSupport.script("scripted_server.py"), String(port)] + arguments, port: port)
        try await TestSupport.waitForPort(port)
    }

    var baseURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }
    var caFile: String { "\(directory)/tls/ca.pem" }
    var rogueCAFile: String { "\(directory)/tls/rogue-ca.pem" }

    /// The requests received so far.
    func log() throws -> [Logged] {
        let text = try String(contentsOfFile: "\(directory)/log.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map { try JSONDecoder().decode(Logged.self, from: Data($0.utf8)) }
    }

    func stop() {
        process.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    deinit { stop() }

    /// The bytes scripted_server.py serves for an object with `seed`.
    static func content(seed: Int, range: Range<Int>) -> [UInt8] {
        range.map { UInt8(($0 * 31 + seed) % 251) }
    }
}
