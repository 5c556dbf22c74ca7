import Foundation

/// Block Storage volumes (`sbs_5k`, `sbs_15k`). Local volume ids answer
/// 404 `volume`.
extension ScalewayAPI {
    static let blockVolumeSizeRange: ClosedRange<Int64> = 1_000_000_000...10_000_000_000_000

    func blockVolume(_ state: AccountState, _ id: String, zone: String) throws -> VolumeRecord {
        guard let v = state.volumes[id], v.zone == zone, v.type.isBlock else { throw APIError.notFound("volume", id) }
        return v
    }

    private func renderBlockVolume(_ id: String) -> JSONObject {
        store.read { s in s.volumes[id].map(BlockRenderer.volume) ?? [:] }
    }

    func listBlockVolumes(_ r: APIRequest) throws -> HTTPResponse {
        let items = store.read { s -> [JSONObject] in
            AccountState.ordered(s.volumes.values, created: \.createdAt, id: \.id)
                .filter { $0.zone == r.zone && $0.type.isBlock }
                .filter { v in r.query("name").map { v.name.contains($0) } ?? true }
                .filter { v in r.query("project_id").map { v.projectID == $0 } ?? true }
                .filter { v in r.query("product_resource_id").map { v.serverID == $0 } ?? true }
                .map(BlockRenderer.volume)
        }
        return try blockList(r, name: "volumes", items: items)
    }

    func getBlockVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        json(200, try store.read { s in BlockRenderer.volume(try blockVolume(s, id, zone: r.zone)) })
    }

    func createBlockVolume(_ r: APIRequest) throws -> HTTPResponse {
        let body = try r.body()
        let iops = body.int64("perf_iops") ?? 5000
        guard let type = VolumeType(perfIOPS: iops) else {
            throw blockArgumentError("perf_iops", "perf_iops must be 5000 or 15000")
        }
        let fromEmpty = body.object("from_empty"), fromSnapshot = body.object("from_snapshot")
        guard (fromEmpty == nil) != (fromSnapshot == nil) else {
            throw blockArgumentError("from_empty", "exactly one of from_empty and from_snapshot must be given")
        }
        let id = Identifier.make()
        let fault = drawFault(r)
        try store.mutate { s in
            let project = try r.project(from: body, field: "project_id", in: s)
            try checkQuota("volumes", current: s.volumes.values.filter { $0.projectID == project }.count, quota: s.quotas.volumes)
            var size: Int64
            var parent: String?
            if let fromEmpty {
                guard let given = fromEmpty.int64("size") else { throw blockArgumentError("from_empty.size", "size is required") }
                size = given
            } else {
                guard let snapshotID = fromSnapshot?.string("snapshot_id") else {
                    throw blockArgumentError("from_snapshot.snapshot_id", "snapshot_id is required")
                }
                guard let snap = s.snapshots[snapshotID], snap.zone == r.zone, snap.family == .block else {
                    throw APIError.notFound("snapshot", snapshotID)
                }
                guard snap.state == "available" else { throw APIError.transientState("snapshot", snapshotID, state: snap.state) }
                size = fromSnapshot?.int64("size") ?? snap.size
                guard size >= snap.size else {
                    throw blockArgumentError("from_snapshot.size", "size must be at least the snapshot's size (\(snap.size))")
                }
                parent = snapshotID
            }
            guard Self.blockVolumeSizeRange.contains(size) else {
                throw blockArgumentError("size", "size must be between 1 GB and 10 TB")
            }
            guard size % 1_000_000_000 == 0 || parent != nil else {
                throw blockArgumentError("size", "size must be a multiple of 1 GB (1000000000 bytes)")
            }
            let now = Date()
            let op = PendingOperation(kind: .createVolume, startedAt: now,
                                      readyAt: now.addingTimeInterval(s.durations.blockVolumeCreate), sourceID: parent,
                                      finalState: "available", fault: fault?.action)
            s.volumes[id] = VolumeRecord(
                id: id, name: body.string("name") ?? "vol-\(id.prefix(8))", projectID: project, zone: r.zone, type: type,
                size: size, tags: body.strings("tags") ?? [], state: "creating", parentSnapshotID: parent,
                createdAt: now, modifiedAt: now, pending: op)
        }
        runner.runVolumeOperation(id)
        return json(200, renderBlockVolume(id))
    }

    func updateBlockVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        try store.mutate { s in
            var v = try blockVolume(s, id, zone: r.zone)
            if let name = body.string("name") { v.name = name }
            if let tags = body.strings("tags") { v.tags = tags }
            if let iops = body.int64("perf_iops") {
                guard let type = VolumeType(perfIOPS: iops) else {
                    throw blockArgumentError("perf_iops", "perf_iops must be 5000 or 15000")
                }
                v.type = type
            }
            if let size = body.int64("size") {
                guard size >= v.size, Self.blockVolumeSizeRange.contains(size) else {
                    throw blockArgumentError("size", "a volume can only grow, up to 10 TB")
                }
                guard truncate(store.volumePath(id), off_t(size)) == 0 else {
                    throw SparseFileError(operation: "truncate", path: store.volumePath(id), errno: errno)
                }
                v.size = size
            }
            v.modifiedAt = Date()
            s.volumes[id] = v
        }
        return json(200, renderBlockVolume(id))
    }

    func deleteBlockVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        try store.mutate { s in
            let v = try blockVolume(s, id, zone: r.zone)
            if v.pending != nil { throw APIError.transientState("volume", id, state: v.state) }
            if v.serverID != nil || v.state == "in_use" {
                throw APIError.preconditionFailed("resource_still_in_use",
                                                  help: "detach the volume from its server before deleting it")
            }
            if s.snapshots.values.contains(where: { $0.pending?.kind == .snapshot && $0.pending?.sourceID == id }) {
                throw APIError.transientState("volume", id, state: "snapshotting")
            }
            s.volumes[id] = nil
        }
        unlink(store.volumePath(id))
        return noContent()
    }
}
