import Crypto
import Foundation
import ScalewayKit
import ScalewaySimulator

/// An in-process simulator (tiny seed, fast durations) in a temporary
/// directory, with helpers for its control API.
final class SimulatorFixture: @unchecked Sendable {
    // `@unchecked Sendable`: all stored properties are immutable after init.
    let sim: Simulator
    let directory: String
    let transport: Transport

    init(seed: Seed = .tiny) throws {
        directory = NSTemporaryDirectory() + "connector-e2e-" + UUID().uuidString
        sim = try Simulator.start(stateDirectory: directory, seed: seed, durations: .fast)
        transport = try Transport()
    }

    func stop() {
        sim.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A plugin config for key `keyName` (full-access, no-block-storage, expired).
    func config(location: String, key keyName: String = "full-access", extra: [String: String] = [:]) -> [String: String] {
        let key = sim.endpoints.keys.first { $0.name == keyName }!
        var c = ["location": location, "access_key": key.accessKey, "secret_key": key.secretKey,
                 "bucket": sim.endpoints.bucket!, "api_url": sim.endpoints.apiURL,
                 "s3_endpoint": sim.endpoints.s3Endpoint]
        c.merge(extra) { $1 }
        return c
    }

    func control(_ path: String, method: ScalewayKit.HTTPMethod = .get) async throws -> Any {
        let response = try await transport.send(HTTPRequest(method: method, url: sim.endpoints.apiURL + path))
        guard response.isSuccessful else { throw PluginProcess.RPCError(code: response.status, message: String(decoding: response.body, as: UTF8.self), data: [:]) }
        return try JSONSerialization.jsonObject(with: Data(response.body))
    }

    func state() async throws -> [String: Any] { try await control("/_sim/state") as! [String: Any] }

    func digest(volume id: String) async throws -> String {
        (try await control("/_sim/volumes/\(id)/digest") as! [String: Any])["sha256"] as! String
    }

    func server(named name: String) async throws -> [String: Any]? {
        (try await state()["servers"] as! [[String: Any]]).first { $0["name"] as? String == name }
    }

    /// Volume ids of a server document, by index.
    static func volumeIDs(_ server: [String: Any]) -> [Int: String] {
        var out: [Int: String] = [:]
        for (k, v) in server["volumes"] as? [String: Any] ?? [:] {
            if let index = Int(k), let id = (v as? [String: Any])?["id"] as? String { out[index] = id }
        }
        return out
    }

    /// The leak-relevant part of the state: ids of servers, volumes,
    /// snapshots, objects and multipart uploads.
    func inventory() async throws -> [String: Set<String>] {
        let s = try await state()
        func ids(_ key: String, _ field: String) -> Set<String> {
            Set((s[key] as? [[String: Any]] ?? []).compactMap { $0[field] as? String })
        }
        return ["servers": ids("servers", "id"), "volumes": ids("volumes", "id"), "snapshots": ids("snapshots", "id"),
                "objects": ids("objects", "key"), "uploads": ids("multipart_uploads", "upload_id")]
    }
}

extension ScalewayKit.HTTPResponse {
    var isSuccessful: Bool { (200..<300).contains(status) }
}

/// Runs a command, returns its exit status (stderr/stdout discarded unless asked).
@discardableResult
func runCommand(_ arguments: [String], output: Bool = false) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// SHA-256 of a file (`sha256sum`: the debug build's own loop is too slow for 1 GB disks).
func sha256(file path: String) throws -> String {
    let (status, out) = try runCommand(["sha256sum", path])
    guard status == 0 else { throw PluginProcess.RPCError(code: Int(status), message: "sha256sum \(path) failed", data: [:]) }
    return String(out.prefix(64))
}
