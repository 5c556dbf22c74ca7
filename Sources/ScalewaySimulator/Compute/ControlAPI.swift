import Foundation
import Synchronization

/// The simulator's control API under `/_sim/` (unauthenticated, loopback
/// only): volume digests and raw contents, the whole state for leak checks,
/// fault injection and operation durations. Documented in README.md.
final class ControlAPI: Sendable {
    let store: AccountStore
    let objects: any ObjectStorage
    let faults: any FaultRegistry
    let inventory: ObjectInventory?
    let runner: OperationRunner

    init(store: AccountStore, runner: OperationRunner, objects: any ObjectStorage, faults: any FaultRegistry,
         inventory: ObjectInventory?) {
        self.store = store
        self.runner = runner
        self.objects = objects
        self.faults = faults
        self.inventory = inventory
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        guard Self.isLoopback(request.remoteAddress) else {
            return error(403, "the control API only answers loopback clients")
        }
        let parts = request.path.split(separator: "/").map(String.init).dropFirst() // drop "_sim"
        do {
            switch (request.method, Array(parts)) {
            case ("GET", let p) where p.count == 3 && p[0] == "volumes" && p[2] == "digest":
                return try digest(path: volumeContentPath(p[1]))
            case ("GET", let p) where p.count == 3 && p[0] == "volumes" && p[2] == "content":
                return try content(path: volumeContentPath(p[1]))
            case ("GET", let p) where p.count == 3 && p[0] == "snapshots" && p[2] == "digest":
                return try digest(path: snapshotContentPath(p[1]))
            case ("GET", ["state"]):
                return json(200, stateDocument())
            case ("GET", ["faults"]):
                return json(200, faultsDocument())
            case ("POST", ["faults"]):
                let installed = try decodeRules(request).map { faults.install($0) }
                return json(200, ["installed": installed.map(Self.encodeRule)])
            case ("DELETE", ["faults"]):
                faults.clear()
                return HTTPResponse(status: 204)
            case ("DELETE", let p) where p.count == 2 && p[0] == "faults":
                return faults.remove(id: p[1]) ? HTTPResponse(status: 204) : error(404, "no fault \(p[1])")
            case ("GET", ["durations"]):
                return json(200, Self.encodeDurations(store.read(\.durations)))
            case ("POST", ["durations"]), ("PUT", ["durations"]):
                let durations = try decodeDurations(request)
                runner.rebase(to: durations)
                return json(200, Self.encodeDurations(durations))
            default:
                return error(404, "unknown control endpoint \(request.method) \(request.path)")
            }
        } catch let failure as ControlError {
            return error(failure.status, failure.message)
        } catch {
            return self.error(400, "\(error)")
        }
    }

    struct ControlError: Error {
        var status: Int
        var message: String
    }

    static func isLoopback(_ address: String) -> Bool {
        address.hasPrefix("127.") || address == "::1" || address == "::ffff:127.0.0.1" || address.isEmpty
    }

    private func json(_ status: Int, _ value: Any) -> HTTPResponse { .json(status, JSONBody.encode(value)) }

    private func error(_ status: Int, _ message: String) -> HTTPResponse {
        json(status, ["type": "sim_error", "message": message])
    }

    private func volumeContentPath(_ id: String) throws -> String {
        guard let volume = store.read({ $0.volumes[id] }) else { throw ControlError(status: 404, message: "no volume \(id)") }
        if volume.pending != nil { throw ControlError(status: 409, message: "volume \(id) is \(volume.state)") }
        return store.volumePath(id)
    }

    private func snapshotContentPath(_ id: String) throws -> String {
        guard let snap = store.read({ $0.snapshots[id] }) else { throw ControlError(status: 404, message: "no snapshot \(id)") }
        if snap.state != "available" { throw ControlError(status: 409, message: "snapshot \(id) is \(snap.state)") }
        return store.snapshotPath(id)
    }

    /// Digests of unchanged files are remembered: hashing a 20 GB volume
    /// (holes included) takes seconds, and tests ask repeatedly.
    private let digestCache = Mutex<[String: (stamp: String, sha256: String)]>([:])

    private func digest(path: String) throws -> HTTPResponse {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SparseFileError(operation: "stat", path: path, errno: errno) }
        let stamp = "\(info.st_size)-\(info.st_mtim.tv_sec)-\(info.st_mtim.tv_nsec)-\(info.st_ino)"
        if let cached = digestCache.withLock({ $0[path] }), cached.stamp == stamp {
            return json(200, ["sha256": cached.sha256, "size": Int64(info.st_size)])
        }
        let (sha, size) = try SparseFile.sha256(of: path)
        digestCache.withLock { $0[path] = (stamp, sha) }
        return json(200, ["sha256": sha, "size": size])
    }

    private func content(path: String) throws -> HTTPResponse {
        let size = try SparseFile.size(of: path)
        var headers = HTTPHeaders()
        headers.set("Content-Type", "application/octet-stream")
        return HTTPResponse(status: 200, headers: headers, body: .file(path: path, offset: 0, length: size))
    }

    /// Every resource, object and incomplete multipart upload. Key secrets are never listed.
    func stateDocument() -> JSONObject {
        var document: JSONObject = store.read { s in
            let org = s.organizationID
            return [
                "organization_id": org,
                "projects": s.projects.map { ["id": $0.id, "name": $0.name] },
                "keys": s.keys.map { k -> JSONObject in
                    ["access_key": k.accessKey, "project_id": k.projectID, "permission_sets": k.permissionSets.sorted(),
                     "expired": k.isExpired(), "description": k.description ?? ""]
                },
                "servers": AccountState.ordered(s.servers.values, created: \.createdAt, id: \.id)
                    .map { InstanceRenderer.server($0, state: s) },
                "volumes": AccountState.ordered(s.volumes.values, created: \.createdAt, id: \.id).map { v -> JSONObject in
                    var o = v.type.isBlock ? BlockRenderer.volume(v) : InstanceRenderer.volume(v, state: s, organization: org)
                    o["volume_type"] = v.type.rawValue
                    o["api"] = v.type.isBlock ? "block" : "instance"
                    return o
                },
                "snapshots": AccountState.ordered(s.snapshots.values, created: \.createdAt, id: \.id).map { snap -> JSONObject in
                    var o = snap.family == .block ? BlockRenderer.snapshot(snap, state: s)
                        : InstanceRenderer.snapshot(snap, organization: org)
                    o["api"] = snap.family.rawValue
                    o["state"] = snap.state
                    return o
                },
                "durations": Self.encodeDurations(s.durations),
            ]
        }
        document["buckets"] = (inventory?.buckets() ?? store.read(\.buckets)).map {
            ["name": $0.name, "region": $0.region, "project_id": $0.projectID]
        }
        document["objects"] = (inventory?.objects() ?? []).map { o -> JSONObject in
            ["bucket": o.bucket, "key": o.key, "size": o.size, "etag": o.etag, "content_type": o.contentType,
             "last_modified": Timestamp.block(o.lastModified)]
        }
        document["multipart_uploads"] = inventory?.multipartUploads() ?? []
        document["faults"] = faultsDocument()["faults"]
        return document
    }

    private func faultsDocument() -> JSONObject {
        let fired = faults.firedCounts
        return ["faults": faults.rules.map { rule -> JSONObject in
            var o = Self.encodeRule(rule)
            o["fired"] = fired[rule.id ?? ""] ?? 0
            return o
        }]
    }

    static func encodeRule(_ rule: FaultRule) -> JSONObject {
        guard let data = try? JSONEncoder().encode(rule),
              let object = try? JSONSerialization.jsonObject(with: data) as? JSONObject else { return [:] }
        return object
    }

    /// A rule object, an array of rules, or `{"faults": [...]}`.
    private func decodeRules(_ request: HTTPRequest) throws -> [FaultRule] {
        let bytes = Data(try request.body.readAll())
        let decoder = JSONDecoder()
        if let many = try? decoder.decode([FaultRule].self, from: bytes) { return many }
        if let wrapped = try? decoder.decode([String: [FaultRule]].self, from: bytes), let many = wrapped["faults"] { return many }
        do { return [try decoder.decode(FaultRule.self, from: bytes)] } catch {
            throw ControlError(status: 400, message: "the body must be a fault rule (or an array of them): \(error)")
        }
    }

    static func encodeDurations(_ d: SimDurations) -> JSONObject {
        guard let data = try? JSONEncoder().encode(d),
              let object = try? JSONSerialization.jsonObject(with: data) as? JSONObject else { return [:] }
        return object
    }

    /// `{"preset": "fast"|"realistic"}`, `{"factor": 0.1}`, or any subset of the duration fields.
    private func decodeDurations(_ request: HTTPRequest) throws -> SimDurations {
        let body = try JSONBody.decodeObject(try request.body.readAll())
        var base = store.read(\.durations)
        if let preset = body.string("preset") {
            guard let d = SimDurations(argument: preset) else { throw ControlError(status: 400, message: "unknown preset \(preset)") }
            base = d
        }
        if let factor = body["factor"] as? Double {
            guard factor >= 0 else { throw ControlError(status: 400, message: "factor must be >= 0") }
            base = SimDurations.realistic.scaled(by: factor)
        }
        var merged = Self.encodeDurations(base)
        for (key, value) in body where merged[key] != nil {
            guard let seconds = value as? Double, seconds >= 0 else {
                throw ControlError(status: 400, message: "\(key) must be a number of seconds >= 0")
            }
            merged[key] = seconds
        }
        return try JSONDecoder().decode(SimDurations.self, from: Data(JSONBody.encode(merged)))
    }
}
