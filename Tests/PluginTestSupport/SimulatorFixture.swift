import Foundation
import ScalewayKit
import ScalewaySimulator

/// An in-process simulator (tiny seed unless told, fast durations) in a
/// temporary directory, with helpers for its control API and for proving
/// that nothing leaked.
///
/// `@unchecked Sendable`: all stored properties are immutable after init.
public final class SimulatorFixture: @unchecked Sendable {
    public let sim: Simulator
    public let directory: String
    public let transport: Transport

    public init(seed: Seed = .tiny) throws {
        directory = NSTemporaryDirectory() + "plakar-scaleway-sim-" + UUID().uuidString
        sim = try Simulator.start(stateDirectory: directory, seed: seed, durations: .fast)
        transport = try Transport()
    }

    public func stop() {
        sim.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A plugin config for key `keyName` (full-access, no-block-storage, expired).
    public func config(location: String = "scaleway-instance://web-01", key keyName: String = "full-access",
                       extra: [String: String] = [:]) -> [String: String] {
        let key = sim.endpoints.keys.first { $0.name == keyName }!
        var c = ["location": location, "access_key": key.accessKey, "secret_key": key.secretKey,
                 "bucket": sim.endpoints.bucket!, "api_url": sim.endpoints.apiURL,
                 "s3_endpoint": sim.endpoints.s3Endpoint]
        c.merge(extra) { $1 }
        return c
    }

    /// A call to the simulator's API (the `/_sim/` control API above all), decoded.
    public func control(_ path: String, method: ScalewayKit.HTTPMethod = .get) async throws -> Any {
        let response = try await transport.send(HTTPRequest(method: method, url: sim.endpoints.apiURL + path))
        guard (200..<300).contains(response.status) else {
            throw PluginProcess.RPCError(code: response.status, message: String(decoding: response.body, as: UTF8.self), data: [:])
        }
        return try JSONSerialization.jsonObject(with: Data(response.body))
    }

    public func state() async throws -> [String: Any] { try await control("/_sim/state") as! [String: Any] }

    public func digest(volume id: String) async throws -> String {
        (try await control("/_sim/volumes/\(id)/digest") as! [String: Any])["sha256"] as! String
    }

    public func server(named name: String) async throws -> [String: Any]? {
        (try await state()["servers"] as! [[String: Any]]).first { $0["name"] as? String == name }
    }

    /// Volume ids of a server document, by index.
    public static func volumeIDs(_ server: [String: Any]) -> [Int: String] {
        var out: [Int: String] = [:]
        for (k, v) in server["volumes"] as? [String: Any] ?? [:] {
            if let index = Int(k), let id = (v as? [String: Any])?["id"] as? String { out[index] = id }
        }
        return out
    }

    /// The whole resource state, for exact before/after comparisons.
    public func inventory() async throws -> Inventory { Inventory(state: try await state()) }

    /// The ids of the leak-relevant resources: `servers`, `volumes`,
    /// `snapshots`, `objects` and (multipart) `uploads`.
    public func resourceIDs() async throws -> [String: Set<String>] {
        let inventory = try await inventory()
        return ["servers": inventory.ids("servers"), "volumes": inventory.ids("volumes"),
                "snapshots": inventory.ids("snapshots"), "objects": inventory.ids("objects"),
                "uploads": inventory.ids("multipart_uploads")]
    }

    /// Waits (bounded) until `condition` holds on the simulator state.
    public func wait(timeout: Double = 60, _ what: String, until condition: ([String: Any]) -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if condition(try await state()) { return }
            guard Date() < deadline else { throw PluginProcess.RPCError(code: 0, message: "timed out waiting for \(what)", data: [:]) }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Sets operation durations in seconds, by `/_sim/durations` field (`block_volume_attach`...).
    public func setDurations(_ durations: [String: Double]) async throws {
        let body = try JSONSerialization.data(withJSONObject: durations)
        let response = try await transport.send(HTTPRequest(method: .post, url: sim.endpoints.apiURL + "/_sim/durations",
                                                            body: .bytes(Array(body))))
        guard (200..<300).contains(response.status) else {
            throw PluginProcess.RPCError(code: response.status, message: "POST /_sim/durations: \(String(decoding: response.body, as: UTF8.self))", data: [:])
        }
    }

    /// The simulator's documents of every volume (`/_sim/state`), by id.
    public func volumes() async throws -> [String: [String: Any]] {
        var out: [String: [String: Any]] = [:]
        for volume in try await state()["volumes"] as? [[String: Any]] ?? [] {
            if let id = volume["id"] as? String { out[id] = volume }
        }
        return out
    }

    /// The status of a Block volume document's attachment (`attaching`, `attached`, `detaching`), nil when unattached.
    public static func attachmentStatus(_ volume: [String: Any]) -> String? {
        (volume["references"] as? [[String: Any]])?.first?["status"] as? String
    }

    /// The sparse file holding volume `id`'s content.
    public func volumeFile(_ id: String) -> String { directory + "/account/volumes/\(id).img" }

    /// `qemu-img compare` of a QCOW2 image with volume `id`'s content (fast:
    /// holes are skipped); returns its status, 0 when they are identical.
    public func compare(image: Data, withVolume id: String) throws -> Int32 {
        let qcow = directory + "/check-\(UUID().uuidString).qcow2"
        defer { try? FileManager.default.removeItem(atPath: qcow) }
        try image.write(to: URL(fileURLWithPath: qcow))
        return try runCommand(["qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", qcow, volumeFile(id)]).status
    }

    /// Every file under the simulator's object store and upload area: what
    /// a run staged (object names, metadata sidecars, contents, parts).
    public var stagedFiles: [String] {
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
