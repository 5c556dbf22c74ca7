import Foundation
import ScalewayKit
@testable import ScalewaySimulator

/// An in-process simulator (tiny seed unless told, fast durations) in a
/// temporary directory, with helpers for its control API and for proving
/// that nothing leaked. Adapted from ConnectorTests.
final class SimulatorFixture: @unchecked Sendable {
    // `@unchecked Sendable`: all stored properties are immutable after init.
    let sim: Simulator
    let directory: String
    let transport: Transport

    init(seed: Seed = .tiny) throws {
        directory = NSTemporaryDirectory() + "reliability-" + UUID().uuidString
        sim = try Simulator.start(stateDirectory: directory, seed: seed, durations: .fast)
        transport = try Transport()
    }

    func stop() {
        sim.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A plugin config for key `keyName` (full-access, no-block-storage, expired).
    func config(location: String = "scaleway-instance://web-01", key keyName: String = "full-access",
                extra: [String: String] = [:]) -> [String: String] {
        let key = sim.endpoints.keys.first { $0.name == keyName }!
        var c = ["location": location, "access_key": key.accessKey, "secret_key": key.secretKey,
                 "bucket": sim.endpoints.bucket!, "api_url": sim.endpoints.apiURL,
                 "s3_endpoint": sim.endpoints.s3Endpoint]
        c.merge(extra) { $1 }
        return c
    }

    func control(_ path: String, method: ScalewayKit.HTTPMethod = .get) async throws -> Any {
        let response = try await transport.send(HTTPRequest(method: method, url: sim.endpoints.apiURL + path))
        guard (200..<300).contains(response.status) else {
            throw PluginProcess.RPCError(code: response.status, message: String(decoding: response.body, as: UTF8.self), data: [:])
        }
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

    /// Waits (bounded) until `condition` holds on the simulator state.
    func wait(timeout: Double = 60, _ what: String, until condition: ([String: Any]) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if condition(try await state()) { return }
            guard Date() < deadline else { throw PluginProcess.RPCError(code: 0, message: "timed out waiting for \(what)", data: [:]) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Every file under the simulator's object store and upload area: what
    /// a run staged (object names, metadata sidecars, contents, parts).
    var stagedFiles: [String] {
        var out: [String] = []
        for sub in ["objects", "uploads"] {
            let root = directory + "/" + sub
            guard let walker = FileManager.default.enumerator(atPath: root) else { continue }
            while let rel = walker.nextObject() as? String {
                var isDir: ObjCBool = false
                let path = root + "/" + rel
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue { out.append(path) }
            }
        }
        return out
    }
}
