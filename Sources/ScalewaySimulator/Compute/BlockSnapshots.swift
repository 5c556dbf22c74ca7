import Foundation

/// Block Storage snapshots, with export to and import from Object Storage.
/// Instance snapshot ids answer 404 `snapshot`.
extension ScalewayAPI {
    func blockSnapshot(_ state: AccountState, _ id: String, zone: String) throws -> SnapshotRecord {
        guard let snap = state.snapshots[id], snap.zone == zone, snap.family == .block else {
            throw APIError.notFound("snapshot", id)
        }
        return snap
    }

    private func renderBlockSnapshot(_ id: String) -> JSONObject {
        store.read { s in s.snapshots[id].map { BlockRenderer.snapshot($0, state: s) } ?? [:] }
    }

    func listBlockSnapshots(_ r: APIRequest) throws -> HTTPResponse {
        let items = store.read { s -> [JSONObject] in
            AccountState.ordered(s.snapshots.values, created: \.createdAt, id: \.id)
                .filter { $0.zone == r.zone && $0.family == .block }
                .filter { snap in r.query("name").map { snap.name.contains($0) } ?? true }
                .filter { snap in r.query("project_id").map { snap.projectID == $0 } ?? true }
                .filter { snap in r.query("volume_id").map { snap.baseVolume?.id == $0 } ?? true }
                .map { BlockRenderer.snapshot($0, state: s) }
        }
        return try blockList(r, name: "snapshots", items: items)
    }

    func getBlockSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        json(200, try store.read { s in BlockRenderer.snapshot(try blockSnapshot(s, id, zone: r.zone), state: s) })
    }

    func createBlockSnapshot(_ r: APIRequest) throws -> HTTPResponse {
        let body = try r.body()
        guard let volumeID = body.string("volume_id") else { throw blockArgumentError("volume_id", "volume_id is required") }
        let id = Identifier.make()
        let fault = drawFault(r)
        try store.mutate { s in
            let project = try r.project(from: body, field: "project_id", in: s)
            let volume = try blockVolume(s, volumeID, zone: r.zone)
            if volume.pending != nil { throw APIError.transientState("volume", volumeID, state: volume.state) }
            try checkQuota("snapshots", current: s.snapshots.values.filter { $0.projectID == project }.count,
                           quota: s.quotas.snapshots)
            let now = Date()
            let op = PendingOperation(kind: .snapshot, startedAt: now,
                                      readyAt: now.addingTimeInterval(s.durations.blockSnapshot), sourceID: volumeID,
                                      finalState: "available", fault: fault?.action, faultOffset: fault?.afterBytes)
            s.snapshots[id] = SnapshotRecord(
                id: id, name: body.string("name") ?? "snp-\(id.prefix(8))", projectID: project, zone: r.zone,
                family: .block, volumeType: volume.type, size: volume.size, tags: body.strings("tags") ?? [],
                state: "creating", baseVolume: .init(id: volume.id, name: volume.name, type: volume.type),
                createdAt: now, modifiedAt: now, isPublic: body.bool("public") ?? false, pending: op)
        }
        runner.runSnapshotOperation(id)
        return json(200, renderBlockSnapshot(id))
    }

    func importBlockSnapshot(_ r: APIRequest) throws -> HTTPResponse {
        let id = try beginSnapshotImport(r, try r.body(), as: .block)
        return json(200, renderBlockSnapshot(id))
    }

    func updateBlockSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        try renameSnapshot(r, id) { s, id, zone in try blockSnapshot(s, id, zone: zone) }
        return json(200, renderBlockSnapshot(id))
    }

    func deleteBlockSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        try store.mutate { s in
            let snap = try blockSnapshot(s, id, zone: r.zone)
            if snap.pending != nil { throw APIError.transientState("snapshot", id, state: snap.state) }
            if s.volumes.values.contains(where: { $0.pending?.sourceID == id }) {
                throw APIError.transientState("snapshot", id, state: "in_use")
            }
            s.snapshots[id] = nil
        }
        unlink(store.snapshotPath(id))
        return noContent()
    }

    func exportBlockSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        let snap = try store.read { s in try blockSnapshot(s, id, zone: r.zone) }
        guard snap.state == "available" else {
            if snap.pending != nil { throw APIError.transientState("snapshot", id, state: snap.state) }
            throw APIError.preconditionFailed("snapshot_not_available", help: "snapshot \(id) is in status \(snap.state)")
        }
        let bucket = try checkBucket(body.string("bucket"), request: r, projectID: snap.projectID, error: blockArgumentError)
        guard let key = body.string("key"), !key.isEmpty else { throw blockArgumentError("key", "key is required") }
        guard Self.imageSizeRange.contains(snap.size) else {
            throw blockArgumentError("snapshot_id", "only snapshots of 1 GB to 1 TB can be exported")
        }
        try startExport(snapshotID: id, bucket: bucket.name, key: key, fault: drawFault(r), exportingState: "exporting",
                        duration: \.blockExport)
        return json(200, renderBlockSnapshot(id))
    }
}
