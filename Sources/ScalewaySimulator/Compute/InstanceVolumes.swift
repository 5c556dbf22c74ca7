import Foundation

/// Instance `l_ssd` volumes. SBS ids answer 404 `instance_volume`, as on
/// the real service.
extension ScalewayAPI {
    func instanceVolume(_ state: AccountState, _ id: String, zone: String) throws -> VolumeRecord {
        guard let v = state.volumes[id], v.zone == zone, v.type == .lSSD else { throw APIError.notFound("instance_volume", id) }
        return v
    }

    func listInstanceVolumes(_ r: APIRequest) throws -> HTTPResponse {
        if let type = r.query("volume_type"), type != "l_ssd" { return try instanceList(r, name: "volumes", items: []) }
        let items = store.read { s -> [JSONObject] in
            AccountState.ordered(s.volumes.values, created: \.createdAt, id: \.id)
                .filter { $0.zone == r.zone && $0.type == .lSSD }
                .filter { v in r.query("name").map { v.name.contains($0) } ?? true }
                .filter { v in r.query("project").map { v.projectID == $0 } ?? true }
                .filter { ScalewayAPI.matchesTags($0.tags, query: r.query("tags")) }
                .map { InstanceRenderer.volume($0, state: s, organization: s.organizationID) }
        }
        return try instanceList(r, name: "volumes", items: items)
    }

    func getInstanceVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let rendered = try store.read { s in
            InstanceRenderer.volume(try instanceVolume(s, id, zone: r.zone), state: s, organization: s.organizationID)
        }
        return json(200, ["volume": rendered])
    }

    func createInstanceVolume(_ r: APIRequest) throws -> HTTPResponse {
        let body = try r.body()
        let type = body.string("volume_type") ?? "l_ssd"
        guard type == "l_ssd" else {
            throw APIError.invalidRequest("Validation Error",
                                          fields: ["volume_type": ["the Instance API creates l_ssd volumes; use the Block Storage API for \(type)"]])
        }
        let size = body.int64("size")
        let baseSnapshot = body.string("base_snapshot")
        guard (size == nil) != (baseSnapshot == nil) else {
            throw APIError.invalidRequest("Validation Error",
                                          fields: ["size": ["exactly one of size and base_snapshot must be given"]])
        }
        if let size, size < 1_000_000_000 || size > 10_000_000_000_000 {
            throw APIError.invalidRequest("Validation Error", fields: ["size": ["size must be between 1 GB and 10 TB"]])
        }
        let id = Identifier.make()
        let now = Date()
        let record = try store.read { s -> VolumeRecord in
            let project = try r.project(from: body, field: "project", in: s)
            try checkQuota("volumes", current: s.volumes.values.filter { $0.projectID == project }.count, quota: s.quotas.volumes)
            var volumeSize = size ?? 0
            if let baseSnapshot {
                guard let snap = s.snapshots[baseSnapshot], snap.zone == r.zone, snap.family == .instance else {
                    throw APIError.notFound("instance_snapshot", baseSnapshot)
                }
                guard snap.state == "available" else {
                    throw APIError.transientState("instance_snapshot", baseSnapshot, state: snap.state)
                }
                volumeSize = snap.size
            }
            return VolumeRecord(id: id, name: body.string("name") ?? "vol-\(id.prefix(8))", projectID: project,
                                zone: r.zone, type: .lSSD, size: volumeSize, tags: body.strings("tags") ?? [],
                                state: "available", parentSnapshotID: baseSnapshot, createdAt: now, modifiedAt: now)
        }
        // The content is in place before the volume appears: l_ssd volumes are immediately available.
        if let baseSnapshot {
            try SparseFile.copy(from: store.snapshotPath(baseSnapshot), to: store.volumePath(id), size: record.size)
        } else {
            try SparseFile.create(at: store.volumePath(id), size: record.size)
        }
        store.mutate { $0.volumes[id] = record }
        var headers = HTTPHeaders()
        headers.set("Location", "\(r.basePath)/volumes/\(id)")
        let rendered = store.read { s in InstanceRenderer.volume(record, state: s, organization: s.organizationID) }
        return json(201, ["volume": rendered], headers: headers)
    }

    func updateInstanceVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        let record = try store.mutate { s -> VolumeRecord in
            var v = try instanceVolume(s, id, zone: r.zone)
            if let name = body.string("name") { v.name = name }
            if let tags = body.strings("tags") { v.tags = tags }
            if let size = body.int64("size") {
                guard size >= v.size else {
                    throw APIError.invalidRequest("Validation Error", fields: ["size": ["a volume can only grow"]])
                }
                guard truncate(store.volumePath(id), off_t(size)) == 0 else {
                    throw SparseFileError(operation: "truncate", path: store.volumePath(id), errno: errno)
                }
                v.size = size
            }
            v.modifiedAt = Date()
            s.volumes[id] = v
            return v
        }
        let rendered = store.read { s in InstanceRenderer.volume(record, state: s, organization: s.organizationID) }
        return json(200, ["volume": rendered])
    }

    func deleteInstanceVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        try store.mutate { s in
            let v = try instanceVolume(s, id, zone: r.zone)
            if v.state != "available" { throw APIError.transientState("instance_volume", id, state: v.state) }
            if v.serverID != nil {
                throw APIError.preconditionFailed("resource_still_in_use",
                                                  help: "detach the volume from its server before deleting it")
            }
            s.volumes[id] = nil
        }
        unlink(store.volumePath(id))
        return noContent()
    }
}
