import Foundation

/// Instance snapshots of `l_ssd` volumes: create, import from Object
/// Storage, export to Object Storage. Block snapshot ids answer 404
/// `instance_snapshot`.
extension ScalewayAPI {
    func instanceSnapshot(_ state: AccountState, _ id: String, zone: String) throws -> SnapshotRecord {
        guard let snap = state.snapshots[id], snap.zone == zone, snap.family == .instance else {
            throw APIError.notFound("instance_snapshot", id)
        }
        return snap
    }

    private func renderInstanceSnapshot(_ id: String) -> JSONObject {
        store.read { s in s.snapshots[id].map { InstanceRenderer.snapshot($0, organization: s.organizationID) } ?? [:] }
    }

    func listInstanceSnapshots(_ r: APIRequest) throws -> HTTPResponse {
        let items = store.read { s -> [JSONObject] in
            AccountState.ordered(s.snapshots.values, created: \.createdAt, id: \.id)
                .filter { $0.zone == r.zone && $0.family == .instance }
                .filter { snap in r.query("name").map { snap.name.contains($0) } ?? true }
                .filter { snap in r.query("project").map { snap.projectID == $0 } ?? true }
                .filter { snap in r.query("base_volume_id").map { snap.baseVolume?.id == $0 } ?? true }
                .filter { snap in r.query("volume_type").map { snap.volumeType.rawValue == $0 } ?? true }
                .filter { ScalewayAPI.matchesTags($0.tags, query: r.query("tags")) }
                .map { InstanceRenderer.snapshot($0, organization: s.organizationID) }
        }
        return try instanceList(r, name: "snapshots", items: items)
    }

    func getInstanceSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let rendered = try store.read { s in
            InstanceRenderer.snapshot(try instanceSnapshot(s, id, zone: r.zone), organization: s.organizationID)
        }
        return json(200, ["snapshot": rendered])
    }

    func createInstanceSnapshot(_ r: APIRequest) throws -> HTTPResponse {
        let body = try r.body()
        if body.hasValue("bucket") || body.hasValue("key") { return try importInstanceSnapshot(r, body) }
        guard let volumeID = body.string("volume_id") else {
            throw APIError.invalidRequest("Validation Error", fields: ["volume_id": ["required key not provided"]])
        }
        let id = Identifier.make()
        let fault = drawFault(r)
        try store.mutate { s in
            let project = try r.project(from: body, field: "project", in: s)
            var volume = try instanceVolume(s, volumeID, zone: r.zone)
            if volume.state != "available" { throw APIError.transientState("instance_volume", volumeID, state: volume.state) }
            try checkQuota("snapshots", current: s.snapshots.values.filter { $0.projectID == project }.count,
                           quota: s.quotas.snapshots)
            let now = Date()
            let op = PendingOperation(kind: .snapshot, startedAt: now,
                                      readyAt: now.addingTimeInterval(s.durations.instanceSnapshot), sourceID: volumeID,
                                      finalState: "available", fault: fault?.action, faultOffset: fault?.afterBytes)
            s.snapshots[id] = SnapshotRecord(
                id: id, name: body.string("name") ?? "snp-\(id.prefix(8))", projectID: project, zone: r.zone,
                family: .instance, volumeType: .lSSD, size: volume.size, tags: body.strings("tags") ?? [],
                state: "snapshotting", baseVolume: .init(id: volume.id, name: volume.name, type: volume.type),
                createdAt: now, modifiedAt: now, isPublic: false, pending: op)
            volume.state = "snapshotting"
            volume.modifiedAt = now
            s.volumes[volumeID] = volume
        }
        runner.runSnapshotOperation(id)
        return json(201, ["snapshot": renderInstanceSnapshot(id),
                          "task": InstanceRenderer.task(hrefFrom: "/snapshots", hrefResult: "snapshots/\(id)", zone: r.zone)])
    }

    /// Errors of the Instance import/export requests: `invalid_request_error` with fields.
    private func instanceFieldError(_ field: String, _ message: String) -> APIError {
        APIError.invalidRequest("Validation Error", fields: [field: [message]])
    }

    /// `POST /snapshots` with `bucket`/`key`: imports a QCOW2 object.
    private func importInstanceSnapshot(_ r: APIRequest, _ body: JSONObject) throws -> HTTPResponse {
        let volumeType = body.string("volume_type") ?? "l_ssd"
        guard volumeType == "l_ssd" else {
            throw instanceFieldError("volume_type", "imports through the Instance API create l_ssd snapshots")
        }
        let id = try beginSnapshotImport(r, body, as: .instance)
        return json(201, ["snapshot": renderInstanceSnapshot(id),
                          "task": InstanceRenderer.task(hrefFrom: "/snapshots", hrefResult: "snapshots/\(id)", zone: r.zone)])
    }

    /// Reads the image's header: encrypted, zstd-compressed and
    /// backing-file images are refused at once; a non-QCOW2 object is
    /// accepted and its import fails later (`invalid_data`/`error`), as on
    /// the real service. Returns the snapshot size.
    func importSize(object: StoredObject, requested: Int64?, error: (String, String) -> APIError) throws -> Int64 {
        var virtualSize: Int64?
        do {
            virtualSize = try runner.codec.inspect(image: object.path).virtualSize
        } catch let rejection as ImageRejection {
            switch rejection.kind {
            case .encrypted, .zstdCompression, .backingFile: throw error("key", rejection.message)
            default: virtualSize = nil
            }
        }
        if let virtualSize, !Self.imageSizeRange.contains(virtualSize) {
            throw error("key", "the image's virtual size \(virtualSize) is outside 1 GB .. 1 TB")
        }
        if let requested {
            guard Self.imageSizeRange.contains(requested) else { throw error("size", "size must be between 1 GB and 1 TB") }
            if let virtualSize, requested < virtualSize {
                throw error("size", "size \(requested) is smaller than the image's virtual size \(virtualSize)")
            }
            return requested
        }
        return virtualSize ?? Self.imageSizeRange.lowerBound
    }

    func updateInstanceSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        try renameSnapshot(r, id) { s, id, zone in try instanceSnapshot(s, id, zone: zone) }
        return json(200, ["snapshot": renderInstanceSnapshot(id)])
    }

    func deleteInstanceSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        try store.mutate { s in
            let snap = try instanceSnapshot(s, id, zone: r.zone)
            if snap.pending != nil { throw APIError.transientState("instance_snapshot", id, state: snap.state) }
            s.snapshots[id] = nil
        }
        unlink(store.snapshotPath(id))
        return noContent()
    }

    func exportInstanceSnapshot(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        let snap = try store.read { s in try instanceSnapshot(s, id, zone: r.zone) }
        guard snap.state == "available" else {
            if snap.pending != nil { throw APIError.transientState("instance_snapshot", id, state: snap.state) }
            throw APIError.invalidRequest("snapshot \(id) is in state \(snap.state) and cannot be exported",
                                          resource: "instance_snapshot")
        }
        let bucket = try checkBucket(body.string("bucket"), request: r, projectID: snap.projectID, error: instanceFieldError)
        guard let key = body.string("key"), !key.isEmpty else { throw instanceFieldError("key", "key is required") }
        guard Self.imageSizeRange.contains(snap.size) else {
            throw instanceFieldError("snapshot_id", "only snapshots of 1 GB to 1 TB can be exported")
        }
        let fault = drawFault(r)
        try startExport(snapshotID: id, bucket: bucket.name, key: key, fault: fault, exportingState: "exporting",
                        duration: \.instanceExport)
        let task = InstanceRenderer.task(hrefFrom: "/snapshots/\(id)/export",
                                         hrefResult: "https://s3.\(r.region).scw.cloud/\(bucket.name)/\(key)", zone: r.zone)
        return json(202, ["task": task])
    }

    /// Shared by both export paths: placeholder object, `exporting` state,
    /// and the background image write.
    func startExport(snapshotID id: String, bucket: String, key: String, fault: FaultRule?, exportingState: String,
                     duration: KeyPath<SimDurations, Double>) throws {
        try store.mutate { s in
            guard var snap = s.snapshots[id], snap.pending == nil, snap.state == "available" else {
                throw APIError.transientState(s.snapshots[id]?.family == .block ? "snapshot" : "instance_snapshot", id,
                                              state: s.snapshots[id]?.state ?? "unknown")
            }
            let now = Date()
            snap.pending = PendingOperation(kind: .export, startedAt: now,
                                            readyAt: now.addingTimeInterval(s.durations[keyPath: duration]),
                                            bucket: bucket, key: key, finalState: "available",
                                            fault: fault?.action, faultOffset: fault?.afterBytes)
            snap.state = exportingState
            snap.modifiedAt = now
            s.snapshots[id] = snap
        }
        do {
            try putExportPlaceholder(bucket: bucket, key: key)
        } catch {
            store.mutate { s in
                s.snapshots[id]?.pending = nil
                s.snapshots[id]?.state = "available"
            }
            throw error
        }
        runner.runSnapshotOperation(id)
    }
}
