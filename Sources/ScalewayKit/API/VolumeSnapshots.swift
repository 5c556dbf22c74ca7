/// A snapshot made by either API, with the family that says which API owns it.
public struct SnapshotReference: Sendable, Hashable, Codable {
    public var api: VolumeAPI
    public var zone: Zone
    public var id: String

    public init(api: VolumeAPI, zone: Zone, id: String) {
        self.api = api
        self.zone = zone
        self.id = id
    }
}

extension VolumeAPI: Codable {}

/// The state of a snapshot in the terms both APIs share.
public struct SnapshotStatus: Sendable, Hashable {
    public var reference: SnapshotReference
    public var name: String?
    /// Instance `state` or Block `status`.
    public var state: String
    /// Bytes (the volume size).
    public var size: Int64?
    /// The creation time as the API wrote it.
    public var createdAt: String?
}

/// Snapshot, export, import and delete for any volume, dispatching on
/// ``VolumeFamily`` (l_ssd through the Instance API, SBS through the Block
/// API): the flows never branch on the family themselves.
public struct VolumeSnapshots: Sendable {
    public let instance: InstanceClient
    public let block: BlockClient

    public init(instance: InstanceClient, block: BlockClient) {
        self.instance = instance
        self.block = block
    }

    /// Starts a snapshot of `volumeID`. Throws for families that cannot be snapshotted.
    public func create(zone: Zone, volumeID: String, family: VolumeFamily, name: String, project: String,
                       tags: [String] = []) async throws -> SnapshotReference {
        switch family.api {
        case .instance:
            let snapshot = try await instance.createSnapshot(zone: zone, CreateInstanceSnapshotRequest(
                name: name, volumeID: volumeID, project: project, tags: tags.isEmpty ? nil : tags))
            return SnapshotReference(api: .instance, zone: zone, id: snapshot.id)
        case .block:
            let snapshot = try await block.createSnapshot(zone: zone, CreateBlockSnapshotRequest(
                volumeID: volumeID, name: name, projectID: project, tags: tags))
            return SnapshotReference(api: .block, zone: zone, id: snapshot.id)
        case nil:
            throw ScalewayAPIError(kind: .other("unsupported_volume"), message: family.unsupportedReason,
                                   resource: "volume", resourceID: volumeID, httpStatus: 0)
        }
    }

    /// The snapshot's current status.
    public func status(_ reference: SnapshotReference) async throws -> SnapshotStatus {
        switch reference.api {
        case .instance:
            let s = try await instance.getSnapshot(zone: reference.zone, id: reference.id)
            return SnapshotStatus(reference: reference, name: s.name, state: s.state ?? "unknown", size: s.size, createdAt: s.creationDate)
        case .block:
            let s = try await block.getSnapshot(zone: reference.zone, id: reference.id)
            return SnapshotStatus(reference: reference, name: s.name, state: s.status ?? "unknown", size: s.size, createdAt: s.createdAt)
        }
    }

    /// Waits until the snapshot is `available` (after creation, export or import).
    /// - Parameter policy: defaults to the client's ``APIClientOptions/wait``;
    ///   pass ``APIClientOptions/transferWait`` after an export or import.
    @discardableResult
    public func waitUntilAvailable(_ reference: SnapshotReference, policy: WaitPolicy? = nil) async throws -> SnapshotStatus {
        switch reference.api {
        case .instance:
            let s = try await instance.waitForSnapshot(zone: reference.zone, id: reference.id, policy: policy)
            return SnapshotStatus(reference: reference, name: s.name, state: s.state ?? "available", size: s.size, createdAt: s.creationDate)
        case .block:
            let s = try await block.waitForSnapshot(zone: reference.zone, id: reference.id, policy: policy)
            return SnapshotStatus(reference: reference, name: s.name, state: s.status ?? "available", size: s.size, createdAt: s.createdAt)
        }
    }

    /// Exports the snapshot as QCOW2 to `bucket/key` and waits until the
    /// export is complete (the snapshot back to `available`): only then may
    /// the object be read.
    public func export(_ reference: SnapshotReference, bucket: String, key: String, policy: WaitPolicy? = nil) async throws {
        switch reference.api {
        case .instance: try await instance.exportSnapshot(zone: reference.zone, id: reference.id, bucket: bucket, key: key)
        case .block: try await block.exportSnapshot(zone: reference.zone, id: reference.id, bucket: bucket, key: key)
        }
        try await waitUntilAvailable(reference, policy: policy ?? transferPolicy(reference.api))
    }

    /// Imports a QCOW2 object as a snapshot of the given family and waits until it is available.
    public func importImage(zone: Zone, family: VolumeFamily, bucket: String, key: String, name: String, project: String,
                            size: Int64? = nil, tags: [String] = [], policy: WaitPolicy? = nil) async throws -> SnapshotStatus {
        let reference: SnapshotReference
        switch family.api {
        case .instance:
            let s = try await instance.importSnapshot(zone: zone, ImportInstanceSnapshotRequest(
                name: name, project: project, bucket: bucket, key: key, size: size, tags: tags.isEmpty ? nil : tags))
            reference = SnapshotReference(api: .instance, zone: zone, id: s.id)
        case .block:
            let s = try await block.importSnapshot(zone: zone, ImportBlockSnapshotRequest(
                bucket: bucket, key: key, name: name, projectID: project, tags: tags, size: size))
            reference = SnapshotReference(api: .block, zone: zone, id: s.id)
        case nil:
            throw ScalewayAPIError(kind: .other("unsupported_volume"), message: family.unsupportedReason, httpStatus: 0)
        }
        return try await waitUntilAvailable(reference, policy: policy ?? transferPolicy(reference.api))
    }

    /// Deletes the snapshot (already gone counts as deleted).
    public func delete(_ reference: SnapshotReference) async throws {
        switch reference.api {
        case .instance: try await instance.deleteSnapshot(zone: reference.zone, id: reference.id)
        case .block: try await block.deleteSnapshot(zone: reference.zone, id: reference.id)
        }
    }

    private func transferPolicy(_ api: VolumeAPI) -> WaitPolicy {
        api == .instance ? instance.options.transferWait : block.options.transferWait
    }
}
