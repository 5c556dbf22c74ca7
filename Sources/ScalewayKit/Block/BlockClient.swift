import Logging

/// The Block Storage API v1: SBS volumes and snapshots, and their exports to
/// and imports from Object Storage. Same retry and wait discipline as ``InstanceClient``.
public final class BlockClient: Sendable {
    let api: APIRequester
    static let logger = Logger(label: "block")

    public var options: APIClientOptions { api.options }

    public init(transport: Transport, credentials: ScalewayCredentials,
                endpoints: ScalewayEndpoints = ScalewayEndpoints(), options: APIClientOptions = APIClientOptions()) {
        api = APIRequester(transport: transport, baseURL: endpoints.apiURL, credentials: credentials, options: options)
    }

    static func base(_ zone: Zone) -> String { "/block/v1/zones/\(zone.rawValue)" }

    private struct VolumesPage: Decodable, Sendable { var volumes: [BlockVolume]; var total_count: Int? }
    private struct SnapshotsPage: Decodable, Sendable { var snapshots: [BlockSnapshot]; var total_count: Int? }

    // MARK: Volumes

    public func createVolume(zone: Zone, _ request: CreateBlockVolumeRequest) async throws -> BlockVolume {
        try await createWithLookup(what: "Block volume \(request.name)", options: options, logger: Self.logger) {
            try await self.api.call(.post, "\(Self.base(zone))/volumes", body: request, retry: .onlyIfNotProcessed,
                                    as: BlockVolume.self).0
        } lookup: {
            try await self.listVolumes(zone: zone, filter: BlockListFilter(name: request.name, projectID: request.projectID))
                .filter { $0.name == request.name }
        }
    }

    public func getVolume(zone: Zone, id: String) async throws -> BlockVolume {
        try await api.call(.get, "\(Self.base(zone))/volumes/\(id)", retry: .idempotent, as: BlockVolume.self).0
    }

    /// Replaces a volume's tags (`PATCH /volumes/{id}`).
    public func updateVolumeTags(zone: Zone, id: String, tags: [String]) async throws -> BlockVolume {
        struct Body: Encodable, Sendable { var tags: [String] }
        return try await api.call(.patch, "\(Self.base(zone))/volumes/\(id)", body: Body(tags: tags), retry: .idempotent,
                                  as: BlockVolume.self).0
    }

    public func listVolumes(zone: Zone, filter: BlockListFilter = BlockListFilter()) async throws -> [BlockVolume] {
        try await api.listAll("\(Self.base(zone))/volumes", query: filter.query, pageSizeName: "page_size",
                              as: VolumesPage.self) { page, _ in (page.volumes, page.total_count) }
    }

    /// Deletes a volume; a volume already gone counts as deleted.
    public func deleteVolume(zone: Zone, id: String) async throws {
        try await api.deleteIgnoringAbsence("\(Self.base(zone))/volumes/\(id)")
    }

    /// Polls a volume until its status is in `until` (default `available` or `in_use`); `error` fails.
    public func waitForVolume(zone: Zone, id: String, policy: WaitPolicy? = nil,
                              until states: Set<String> = ["available", "in_use"]) async throws -> BlockVolume {
        try await Waiter(policy: policy ?? options.wait, clock: options.clock).wait(
            for: "Block volume \(id) to be \(states.sorted().joined(separator: " or "))",
            poll: { try await self.getVolume(zone: zone, id: id) },
            state: { $0.status ?? "unknown" },
            decide: { volume in
                if let status = volume.status, states.contains(status) { return .done }
                if volume.status == "error" {
                    return .fail(ScalewayAPIError(kind: .other("volume_error"), message: "volume entered the error state",
                                                  resource: "volume", resourceID: id, httpStatus: 200))
                }
                return .keepWaiting
            })
    }

    // MARK: Snapshots

    public func createSnapshot(zone: Zone, _ request: CreateBlockSnapshotRequest) async throws -> BlockSnapshot {
        try await createWithLookup(what: "Block snapshot \(request.name)", options: options, logger: Self.logger) {
            try await self.api.call(.post, "\(Self.base(zone))/snapshots", body: request, retry: .onlyIfNotProcessed,
                                    as: BlockSnapshot.self).0
        } lookup: {
            try await self.listSnapshots(zone: zone, filter: BlockListFilter(name: request.name, projectID: request.projectID,
                                                                            volumeID: request.volumeID))
                .filter { $0.name == request.name }
        }
    }

    public func getSnapshot(zone: Zone, id: String) async throws -> BlockSnapshot {
        try await api.call(.get, "\(Self.base(zone))/snapshots/\(id)", retry: .idempotent, as: BlockSnapshot.self).0
    }

    public func listSnapshots(zone: Zone, filter: BlockListFilter = BlockListFilter()) async throws -> [BlockSnapshot] {
        try await api.listAll("\(Self.base(zone))/snapshots", query: filter.query, pageSizeName: "page_size",
                              as: SnapshotsPage.self) { page, _ in (page.snapshots, page.total_count) }
    }

    /// Deletes a snapshot; a snapshot already gone counts as deleted.
    public func deleteSnapshot(zone: Zone, id: String) async throws {
        try await api.deleteIgnoringAbsence("\(Self.base(zone))/snapshots/\(id)")
    }

    /// Starts exporting a snapshot as QCOW2 to `bucket/key`; the snapshot goes
    /// `exporting`, then `available` when the object is complete.
    @discardableResult
    public func exportSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws -> BlockSnapshot {
        struct Body: Encodable, Sendable { var bucket: String; var key: String }
        var attempt = 1
        while true {
            do {
                return try await api.call(.post, "\(Self.base(zone))/snapshots/\(id)/export-to-object-storage",
                                          body: Body(bucket: bucket, key: key), retry: .onlyIfNotProcessed, as: BlockSnapshot.self).0
            } catch where APIRequester.isAmbiguous(error) && attempt < options.retry.maxAttempts {
                if let snapshot = try? await getSnapshot(zone: zone, id: id), snapshot.status == "exporting" { return snapshot }
                try await options.clock.sleep(for: options.retry.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    /// Imports a QCOW2 object as a Block snapshot (status `creating`, then `available`).
    public func importSnapshot(zone: Zone, _ request: ImportBlockSnapshotRequest) async throws -> BlockSnapshot {
        try await createWithLookup(what: "Block snapshot import \(request.name)", options: options, logger: Self.logger) {
            try await self.api.call(.post, "\(Self.base(zone))/snapshots/import-from-object-storage", body: request,
                                    retry: .onlyIfNotProcessed, as: BlockSnapshot.self).0
        } lookup: {
            try await self.listSnapshots(zone: zone, filter: BlockListFilter(name: request.name, projectID: request.projectID))
                .filter { $0.name == request.name && $0.parentVolume == nil }
        }
    }

    /// Polls a snapshot until `available`; `error` fails.
    public func waitForSnapshot(zone: Zone, id: String, policy: WaitPolicy? = nil) async throws -> BlockSnapshot {
        try await Waiter(policy: policy ?? options.wait, clock: options.clock).wait(
            for: "Block snapshot \(id) to be available",
            poll: { try await self.getSnapshot(zone: zone, id: id) },
            state: { $0.status ?? "unknown" },
            decide: { snapshot in
                switch snapshot.status {
                case "available": return .done
                case "error":
                    return .fail(ScalewayAPIError(kind: .other("snapshot_error"),
                        message: "Block snapshot entered the error state; for an import, check that the object is a valid, "
                            + "unencrypted QCOW2 without backing file or ZSTD clusters",
                        resource: "snapshot", resourceID: id, httpStatus: 200))
                default: return .keepWaiting
                }
            })
    }
}
