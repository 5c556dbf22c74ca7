import Foundation

/// What differs between the Instance and the Block import/rename of a
/// snapshot; everything else (checks, quota, the timed operation) is shared
/// by ``ScalewayAPI/beginSnapshotImport(_:_:as:)``.
struct SnapshotFlavor: Sendable {
    /// Body field naming the project: `project` (Instance) or `project_id` (Block).
    let projectField: String
    let family: SnapshotRecord.Family
    let volumeType: VolumeType
    /// State while importing: `importing` (Instance) or `creating` (Block).
    let importingState: String
    let importDuration: @Sendable (SimDurations) -> Double
    /// How this API reports a bad field.
    let fieldError: @Sendable (String, String) -> APIError

    static let instance = SnapshotFlavor(
        projectField: "project", family: .instance, volumeType: .lSSD, importingState: "importing",
        importDuration: { $0.instanceImport },
        fieldError: { field, message in APIError.invalidRequest("Validation Error", fields: [field: [message]]) })

    static let block = SnapshotFlavor(
        projectField: "project_id", family: .block, volumeType: .sbs5k, importingState: "creating",
        importDuration: { $0.blockImport },
        fieldError: { argument, message in APIError.invalidArgument(argument, reason: "constraint", help: message) })
}

extension ScalewayAPI {
    /// Validates an import request (bucket, key, object, size, quota),
    /// records the snapshot in its importing state and starts the timed
    /// import. Returns the new snapshot's id.
    func beginSnapshotImport(_ r: APIRequest, _ body: JSONObject, as flavor: SnapshotFlavor) throws -> String {
        let project = try store.read { s in try r.project(from: body, field: flavor.projectField, in: s) }
        let bucket = try checkBucket(body.string("bucket"), request: r, projectID: project, error: flavor.fieldError)
        guard let key = body.string("key"), !key.isEmpty else { throw flavor.fieldError("key", "key is required") }
        guard let object = objects.object(bucket: bucket.name, key: key) else {
            throw flavor.fieldError("key", "object \(key) does not exist in bucket \(bucket.name)")
        }
        let size = try importSize(object: object, requested: body.int64("size"), error: flavor.fieldError)
        let id = Identifier.make()
        let fault = drawFault(r)
        try store.mutate { s in
            try checkQuota("snapshots", current: s.snapshots.values.filter { $0.projectID == project }.count,
                           quota: s.quotas.snapshots)
            let now = Date()
            let op = PendingOperation(kind: .importImage, startedAt: now,
                                      readyAt: now.addingTimeInterval(flavor.importDuration(s.durations)),
                                      bucket: bucket.name, key: key, finalState: "available",
                                      fault: fault?.action, faultOffset: fault?.afterBytes)
            s.snapshots[id] = SnapshotRecord(
                id: id, name: body.string("name") ?? "snp-\(id.prefix(8))", projectID: project, zone: r.zone,
                family: flavor.family, volumeType: flavor.volumeType, size: size, tags: body.strings("tags") ?? [],
                state: flavor.importingState, baseVolume: nil, createdAt: now, modifiedAt: now, isPublic: false,
                pending: op)
        }
        runner.runSnapshotOperation(id)
        return id
    }

    /// Applies a PATCH (name, tags) to a snapshot found by `lookup`.
    func renameSnapshot(_ r: APIRequest, _ id: String,
                        lookup: (AccountState, String, String) throws -> SnapshotRecord) throws {
        let body = try r.body()
        try store.mutate { s in
            var snap = try lookup(s, id, r.zone)
            if let name = body.string("name") { snap.name = name }
            if let tags = body.strings("tags") { snap.tags = tags }
            snap.modifiedAt = Date()
            s.snapshots[id] = snap
        }
    }
}
