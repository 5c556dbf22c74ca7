import Logging

/// The Instance API v1: servers, l_ssd volumes and Instance snapshots.
///
/// Calls are retried per ``APIClientOptions/retry``: idempotent ones on 429,
/// 5xx and connection errors; creates, exports and actions only when the
/// failure proves the request was not processed, and after an ambiguous
/// failure a create first looks the resource up by name. `transient_state`
/// answers are waited out. Waiters poll the resource (tasks are fake).
public final class InstanceClient: Sendable {
    let api: APIRequester
    static let logger = Logger(label: "instance")

    public var options: APIClientOptions { api.options }

    public init(transport: Transport, credentials: ScalewayCredentials,
                endpoints: ScalewayEndpoints = ScalewayEndpoints(), options: APIClientOptions = APIClientOptions()) {
        api = APIRequester(transport: transport, baseURL: endpoints.apiURL, credentials: credentials, options: options)
    }

    static func base(_ zone: Zone) -> String { "/instance/v1/zones/\(zone.rawValue)" }

    private struct ServerEnvelope: Codable, Sendable { var server: InstanceServer }
    private struct ServersEnvelope: Codable, Sendable { var servers: [InstanceServer] }
    private struct VolumeEnvelope: Codable, Sendable { var volume: InstanceVolume }
    private struct VolumesEnvelope: Codable, Sendable { var volumes: [InstanceVolume] }
    private struct SnapshotEnvelope: Codable, Sendable { var snapshot: InstanceSnapshot; var task: InstanceTask? }
    private struct SnapshotsEnvelope: Codable, Sendable { var snapshots: [InstanceSnapshot] }
    private struct TaskEnvelope: Codable, Sendable { var task: InstanceTask? }

    // MARK: Servers

    /// Lists servers, every page. `filter.name` is a substring match: compare names yourself for an exact match.
    public func listServers(zone: Zone, filter: InstanceListFilter = InstanceListFilter()) async throws -> [InstanceServer] {
        try await list("\(Self.base(zone))/servers", filter, as: ServersEnvelope.self) { $0.servers }
    }

    public func getServer(zone: Zone, id: String) async throws -> InstanceServer {
        try await api.call(.get, "\(Self.base(zone))/servers/\(id)", retry: .idempotent, as: ServerEnvelope.self).0.server
    }

    /// Creates a server (it starts `stopped`). After an ambiguous failure the
    /// server is looked up by exact name, project and tags before any retry.
    public func createServer(zone: Zone, _ request: CreateServerRequest) async throws -> InstanceServer {
        try await createOnce(what: "server \(request.name)") {
            try await self.api.call(.post, "\(Self.base(zone))/servers", body: request, retry: .onlyIfNotProcessed,
                                    as: ServerEnvelope.self).0.server
        } lookup: {
            try await self.listServers(zone: zone, filter: InstanceListFilter(name: request.name, project: request.project))
                .filter { $0.name == request.name && Set(request.tags).isSubset(of: Set($0.tags ?? [])) }
        }
    }

    /// Replaces the server's volume map with `volumes` (the COMPLETE map: an index left out is detached).
    /// l_ssd changes need the server stopped; SBS volumes can be hot-plugged.
    public func updateServerVolumes(zone: Zone, serverID: String, volumes: [String: ServerVolumeTemplate]) async throws -> InstanceServer {
        struct Body: Encodable, Sendable { var volumes: [String: ServerVolumeTemplate] }
        return try await api.call(.patch, "\(Self.base(zone))/servers/\(serverID)", body: Body(volumes: volumes),
                                  retry: .idempotent, as: ServerEnvelope.self).0.server
    }

    /// Runs an action (poweron, poweroff, terminate...). Poll the server with
    /// ``waitForServer(zone:id:policy:until:)`` for the outcome.
    @discardableResult
    public func performAction(zone: Zone, serverID: String, action: ServerAction) async throws -> InstanceTask? {
        struct Body: Encodable, Sendable { var action: ServerAction }
        return try await api.call(.post, "\(Self.base(zone))/servers/\(serverID)/action", body: Body(action: action),
                                  retry: .onlyIfNotProcessed, as: TaskEnvelope.self).0.task
    }

    /// Attaches a volume (SBS: `volume_type` `sbs_volume`; may be hot-plugged).
    public func attachVolume(zone: Zone, serverID: String, volumeID: String, family: VolumeFamily) async throws -> InstanceServer {
        struct Body: Encodable, Sendable {
            var volume_id: String
            var volume_type: String?
        }
        let body = Body(volume_id: volumeID, volume_type: family == .blockStorage ? "sbs_volume" : nil)
        return try await api.call(.post, "\(Self.base(zone))/servers/\(serverID)/attach-volume", body: body,
                                  retry: .onlyIfNotProcessed, as: ServerEnvelope.self).0.server
    }

    public func detachVolume(zone: Zone, serverID: String, volumeID: String) async throws -> InstanceServer {
        struct Body: Encodable, Sendable { var volume_id: String }
        return try await api.call(.post, "\(Self.base(zone))/servers/\(serverID)/detach-volume", body: Body(volume_id: volumeID),
                                  retry: .onlyIfNotProcessed, as: ServerEnvelope.self).0.server
    }

    /// Polls the server until `until` holds for its state (e.g. `stopped`).
    public func waitForServer(zone: Zone, id: String, policy: WaitPolicy? = nil,
                              until states: Set<String>) async throws -> InstanceServer {
        try await waiter(policy ?? options.wait).wait(for: "server \(id) to be \(states.sorted().joined(separator: " or "))",
            poll: { try await self.getServer(zone: zone, id: id) },
            state: { $0.state ?? "unknown" },
            decide: { server in
                if let state = server.state, states.contains(state) { return .done }
                if server.state == "locked" {
                    return .fail(ScalewayAPIError(kind: .locked, message: "server is locked", resource: "instance_server",
                                                  resourceID: id, httpStatus: 423))
                }
                return .keepWaiting
            })
    }

    /// Deletes a server that is stopped and has no volume left (`DELETE /servers/{id}`).
    public func deleteServer(zone: Zone, id: String) async throws {
        try await api.callWithoutResult(.delete, "\(Self.base(zone))/servers/\(id)", retry: .idempotent)
    }

    // MARK: Volumes (l_ssd)

    public func createVolume(zone: Zone, _ request: CreateInstanceVolumeRequest) async throws -> InstanceVolume {
        try await createOnce(what: "volume \(request.name)") {
            try await self.api.call(.post, "\(Self.base(zone))/volumes", body: request, retry: .onlyIfNotProcessed,
                                    as: VolumeEnvelope.self).0.volume
        } lookup: {
            try await self.listVolumes(zone: zone, filter: InstanceListFilter(name: request.name, project: request.project))
                .filter { $0.name == request.name }
        }
    }

    /// Replaces a volume's tags (`PATCH /volumes/{id}`).
    public func updateVolumeTags(zone: Zone, id: String, tags: [String]) async throws -> InstanceVolume {
        struct Body: Encodable, Sendable { var tags: [String] }
        return try await api.call(.patch, "\(Self.base(zone))/volumes/\(id)", body: Body(tags: tags), retry: .idempotent,
                                  as: VolumeEnvelope.self).0.volume
    }

    public func getVolume(zone: Zone, id: String) async throws -> InstanceVolume {
        try await api.call(.get, "\(Self.base(zone))/volumes/\(id)", retry: .idempotent, as: VolumeEnvelope.self).0.volume
    }

    public func listVolumes(zone: Zone, filter: InstanceListFilter = InstanceListFilter()) async throws -> [InstanceVolume] {
        try await list("\(Self.base(zone))/volumes", filter, as: VolumesEnvelope.self) { $0.volumes }
    }

    /// Deletes a volume; a volume already gone counts as deleted.
    public func deleteVolume(zone: Zone, id: String) async throws {
        try await api.deleteIgnoringAbsence("\(Self.base(zone))/volumes/\(id)")
    }

    public func waitForVolume(zone: Zone, id: String, policy: WaitPolicy? = nil) async throws -> InstanceVolume {
        try await waiter(policy ?? options.wait).wait(for: "volume \(id) to be available",
            poll: { try await self.getVolume(zone: zone, id: id) },
            state: { $0.state ?? "unknown" },
            decide: { volume in
                switch volume.state {
                case "available": .done
                case "error": .fail(ScalewayAPIError(kind: .other("volume_error"), message: "volume entered the error state",
                                                     resource: "instance_volume", resourceID: id, httpStatus: 200))
                default: .keepWaiting
                }
            })
    }

    // MARK: Snapshots

    /// Snapshots an l_ssd volume (state `snapshotting`, then `available`).
    public func createSnapshot(zone: Zone, _ request: CreateInstanceSnapshotRequest) async throws -> InstanceSnapshot {
        try await createOnce(what: "snapshot \(request.name)") {
            try await self.api.call(.post, "\(Self.base(zone))/snapshots", body: request, retry: .onlyIfNotProcessed,
                                    as: SnapshotEnvelope.self).0.snapshot
        } lookup: {
            try await self.listSnapshots(zone: zone, filter: InstanceListFilter(name: request.name, project: request.project))
                .filter { $0.name == request.name && $0.baseVolume?.id == request.volumeID }
        }
    }

    /// Imports a QCOW2 object as an l_ssd snapshot (state `importing`, then `available`).
    public func importSnapshot(zone: Zone, _ request: ImportInstanceSnapshotRequest) async throws -> InstanceSnapshot {
        try await createOnce(what: "snapshot import \(request.name)") {
            try await self.api.call(.post, "\(Self.base(zone))/snapshots", body: request, retry: .onlyIfNotProcessed,
                                    as: SnapshotEnvelope.self).0.snapshot
        } lookup: {
            try await self.listSnapshots(zone: zone, filter: InstanceListFilter(name: request.name, project: request.project))
                .filter { $0.name == request.name && $0.baseVolume == nil }
        }
    }

    public func getSnapshot(zone: Zone, id: String) async throws -> InstanceSnapshot {
        try await api.call(.get, "\(Self.base(zone))/snapshots/\(id)", retry: .idempotent, as: SnapshotEnvelope.self).0.snapshot
    }

    public func listSnapshots(zone: Zone, filter: InstanceListFilter = InstanceListFilter()) async throws -> [InstanceSnapshot] {
        try await list("\(Self.base(zone))/snapshots", filter, as: SnapshotsEnvelope.self) { $0.snapshots }
    }

    /// Deletes a snapshot; a snapshot already gone counts as deleted.
    public func deleteSnapshot(zone: Zone, id: String) async throws {
        try await api.deleteIgnoringAbsence("\(Self.base(zone))/snapshots/\(id)")
    }

    /// Starts exporting a snapshot as QCOW2 to `bucket/key` (202, fake task;
    /// the snapshot goes `exporting` then `available`; a 0-byte placeholder
    /// sits at the key meanwhile: never read it before the snapshot is back to available).
    /// After an ambiguous failure the snapshot is checked: `exporting` means the export started.
    @discardableResult
    public func exportSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws -> InstanceTask? {
        struct Body: Encodable, Sendable { var bucket: String; var key: String }
        var attempt = 1
        while true {
            do {
                return try await api.call(.post, "\(Self.base(zone))/snapshots/\(id)/export", body: Body(bucket: bucket, key: key),
                                          retry: .onlyIfNotProcessed, as: TaskEnvelope.self).0.task
            } catch where APIRequester.isAmbiguous(error) && attempt < options.retry.maxAttempts {
                if let snapshot = try? await getSnapshot(zone: zone, id: id), snapshot.state == "exporting" { return nil }
                try await options.clock.sleep(for: options.retry.delay(beforeRetry: attempt))
                attempt += 1
            }
        }
    }

    /// Polls a snapshot until `available`; `error` and `invalid_data` fail.
    /// Use ``APIClientOptions/transferWait`` (the default for exports and imports through ``VolumeSnapshots``) for big volumes.
    public func waitForSnapshot(zone: Zone, id: String, policy: WaitPolicy? = nil) async throws -> InstanceSnapshot {
        try await waiter(policy ?? options.wait).wait(for: "Instance snapshot \(id) to be available",
            poll: { try await self.getSnapshot(zone: zone, id: id) },
            state: { $0.state ?? "unknown" },
            decide: { snapshot in
                switch snapshot.state {
                case "available": return .done
                case "error", "invalid_data":
                    return .fail(ScalewayAPIError(kind: .other("snapshot_\(snapshot.state!)"),
                        message: "snapshot entered the \(snapshot.state!) state\(snapshot.errorDetails.map { " (\($0))" } ?? ""); "
                            + "for an import, check that the object is a valid, unencrypted QCOW2 without backing file",
                        resource: "instance_snapshot", resourceID: id, httpStatus: 200))
                default: return .keepWaiting
                }
            })
    }

    // MARK: Helpers

    func waiter(_ policy: WaitPolicy) -> Waiter { Waiter(policy: policy, clock: options.clock) }

    /// Every page of an Instance list (`per_page`, total in `X-Total-Count`).
    private func list<Page: Decodable & Sendable, Item: Sendable>(
        _ path: String, _ filter: InstanceListFilter, as page: Page.Type, _ items: (Page) -> [Item]
    ) async throws -> [Item] {
        try await api.listAll(path, query: filter.query, pageSizeName: "per_page", as: Page.self) { page, head in
            (items(page), head.headers["x-total-count"].flatMap { Int($0) })
        }
    }

    /// Runs a create; after an ambiguous failure (timeout, reset, 5xx) looks
    /// the resource up and returns it if exactly one matches, else retries.
    func createOnce<Resource: Sendable>(what: String, create: () async throws -> Resource,
                                        lookup: () async throws -> [Resource]) async throws -> Resource {
        try await createWithLookup(what: what, options: options, logger: Self.logger, create: create, lookup: lookup)
    }
}

/// The create-then-look-up discipline shared by the Instance and Block clients.
func createWithLookup<Resource: Sendable>(what: String, options: APIClientOptions, logger: Logger,
                                          create: () async throws -> Resource,
                                          lookup: () async throws -> [Resource]) async throws -> Resource {
    var attempt = 1
    while true {
        do {
            return try await create()
        } catch where APIRequester.isAmbiguous(error) && attempt < options.retry.maxAttempts {
            logger.warning("creating \(what) failed ambiguously (\(APIRequester.brief(error))); looking it up before retrying")
            try await options.clock.sleep(for: options.retry.delay(beforeRetry: attempt))
            let found = try await lookup()
            if found.count == 1 { return found[0] }
            if found.count > 1 {
                throw ScalewayAPIError(kind: .conflict, message: "\(found.count) resources match \(what) after an ambiguous create; "
                    + "delete the duplicates", httpStatus: 409)
            }
            attempt += 1
        }
    }
}
