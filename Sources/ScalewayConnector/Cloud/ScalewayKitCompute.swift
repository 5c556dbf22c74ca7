import ScalewayKit

/// ``ComputeAPI`` over ScalewayKit's Instance and Block clients.
struct ScalewayKitCompute: ComputeAPI {
    let session: ScalewaySession

    private var instance: InstanceClient { session.instance }
    private var block: BlockClient { session.block }

    private func kz(_ zone: Zone) throws -> ScalewayKit.Zone {
        guard let z = ScalewayKit.Zone(rawValue: zone.name) else {
            throw CloudError(.invalidRequest, message: "unknown zone \(zone.name)")
        }
        return z
    }

    /// One ScalewayKit call in `zone` (an unknown zone is refused first),
    /// its errors mapped to ``CloudError``.
    private func call<T>(isolation: isolated (any Actor)? = #isolation, _ zone: Zone,
                         _ body: (ScalewayKit.Zone) async throws -> T) async throws -> T {
        let z = try kz(zone)
        return try await ScalewayKitErrors.call { try await body(z) }
    }

    // MARK: conversions

    static func server(_ s: InstanceServer, zone: Zone) -> CloudServer {
        var server = CloudServer(id: s.id, name: s.name ?? "", project: s.project ?? "", commercialType: s.commercialType ?? "",
                                 state: s.state ?? "unknown", zone: s.zone ?? zone.name, tags: s.tags ?? [])
        server.hostname = s.hostname
        server.organization = s.organization
        server.bootType = s.bootType
        server.arch = s.arch
        server.image = s.image.flatMap { img in img.id.map { ResourceRef(id: $0, name: img.name) } }
        server.securityGroup = s.securityGroup.map { ResourceRef(id: $0.id, name: $0.name) }
        server.placementGroup = s.placementGroup.map { ResourceRef(id: $0.id, name: $0.name) }
        server.publicIPs = (s.publicIPs ?? []).compactMap(\.address)
        if server.publicIPs.isEmpty, let ip = s.publicIP?.address { server.publicIPs = [ip] }
        server.privateIP = s.privateIP
        server.macAddress = s.macAddress
        server.enableIPv6 = s.enableIPv6
        server.routedIPEnabled = s.routedIPEnabled
        server.dynamicIPRequired = s.dynamicIPRequired
        server.privateNICCount = s.privateNICs?.count ?? 0
        var volumes: [Int: ServerVolumeEntry] = [:]
        for (key, v) in s.volumes ?? [:] {
            guard let index = Int(key) else { continue }
            volumes[index] = ServerVolumeEntry(id: v.id, volumeType: v.volumeType ?? "", name: v.name, size: v.size,
                                               boot: v.boot ?? false, tags: v.tags ?? [], state: v.state)
        }
        server.volumes = volumes
        return server
    }

    static func snapshot(_ s: InstanceSnapshot) -> CloudSnapshot {
        var details: String?
        if let e = s.errorDetails, "\(e)" != "null" { details = "\(e)" }
        return CloudSnapshot(id: s.id, name: s.name ?? "", size: s.size ?? 0, status: s.state ?? "unknown",
                             createdAt: s.creationDate ?? "", tags: s.tags ?? [], errorDetails: details)
    }

    static func snapshot(_ s: BlockSnapshot) -> CloudSnapshot {
        CloudSnapshot(id: s.id, name: s.name ?? "", size: s.size ?? 0, status: s.status ?? "unknown",
                      createdAt: s.createdAt ?? "", tags: s.tags ?? [])
    }

    static func volume(_ v: InstanceVolume) -> CloudVolume {
        CloudVolume(id: v.id, name: v.name ?? "", volumeType: v.volumeType ?? "l_ssd", size: v.size ?? 0,
                    status: v.state ?? "unknown", tags: v.tags ?? [], serverID: v.server?.id)
    }

    static func volume(_ v: BlockVolume) -> CloudVolume {
        CloudVolume(id: v.id, name: v.name ?? "", volumeType: v.type ?? "sbs_5k", size: v.size ?? 0,
                    perfIOPS: v.specs?.perfIOPS, status: v.status ?? "unknown", tags: v.tags ?? [],
                    serverID: v.references?.first { $0.productResourceType == "instance_server" }?.productResourceID)
    }

    static func templates(_ volumes: [Int: ServerVolumeTemplate]) -> [String: ScalewayKit.ServerVolumeTemplate] {
        var out: [String: ScalewayKit.ServerVolumeTemplate] = [:]
        for (index, t) in volumes {
            switch t {
            case .blockVolume(let id): out[String(index)] = .blockVolume(id: id)
            case .localVolume(let id, let name): out[String(index)] = .localVolume(id: id, name: name, boot: false)
            }
        }
        return out
    }

    // MARK: servers

    func getServer(zone: Zone, id: String) async throws -> CloudServer {
        Self.server(try await call(zone) { z in try await instance.getServer(zone: z, id: id) }, zone: zone)
    }

    func listServers(zone: Zone, name: String) async throws -> [CloudServer] {
        try await call(zone) { z in
            try await instance.listServers(zone: z, filter: InstanceListFilter(name: name))
        }.map { Self.server($0, zone: zone) }
    }

    func serverAction(zone: Zone, id: String, action: String) async throws {
        guard let a = ServerAction(rawValue: action) else { throw CloudError(.invalidRequest, message: "unknown action \(action)") }
        _ = try await call(zone) { z in try await instance.performAction(zone: z, serverID: id, action: a) }
    }

    func createServer(zone: Zone, _ request: CreateServerRequest) async throws -> CloudServer {
        let body = ScalewayKit.CreateServerRequest(name: request.name, commercialType: request.commercialType,
                                                   project: request.project, tags: request.tags,
                                                   bootType: request.bootType ?? "local", dynamicIPRequired: false,
                                                   volumes: Self.templates(request.volumes))
        return Self.server(try await call(zone) { z in try await instance.createServer(zone: z, body) }, zone: zone)
    }

    func setServerVolumes(zone: Zone, id: String, volumes: [Int: ServerVolumeTemplate]) async throws -> CloudServer {
        let map = Self.templates(volumes)
        return Self.server(try await call(zone) { z in
            try await instance.updateServerVolumes(zone: z, serverID: id, volumes: map)
        }, zone: zone)
    }

    func deleteServer(zone: Zone, id: String) async throws {
        try await call(zone) { z in try await instance.deleteServer(zone: z, id: id) }
    }

    // MARK: instance volumes and snapshots

    func getInstanceVolume(zone: Zone, id: String) async throws -> CloudVolume {
        Self.volume(try await call(zone) { z in try await instance.getVolume(zone: z, id: id) })
    }

    func createInstanceVolume(zone: Zone, name: String, project: String, baseSnapshot: String, tags: [String]) async throws -> CloudVolume {
        Self.volume(try await call(zone) { z in
            try await instance.createVolume(zone: z, .fromSnapshot(name: name, project: project, snapshotID: baseSnapshot, tags: tags))
        })
    }

    func deleteInstanceVolume(zone: Zone, id: String) async throws {
        try await call(zone) { z in try await instance.deleteVolume(zone: z, id: id) }
    }

    func setInstanceVolumeTags(zone: Zone, id: String, tags: [String]) async throws {
        _ = try await call(zone) { z in try await instance.updateVolumeTags(zone: z, id: id, tags: tags) }
    }

    func listInstanceVolumes(zone: Zone, project: String?, tags: [String]) async throws -> [CloudVolume] {
        try await call(zone) { z in
            try await instance.listVolumes(zone: z, filter: InstanceListFilter(project: project, tags: tags))
        }.map(Self.volume)
    }

    func createInstanceSnapshot(zone: Zone, name: String, volumeID: String, project: String, tags: [String]) async throws -> CloudSnapshot {
        Self.snapshot(try await call(zone) { z in
            try await instance.createSnapshot(zone: z, CreateInstanceSnapshotRequest(name: name, volumeID: volumeID, project: project, tags: tags))
        })
    }

    func importInstanceSnapshot(zone: Zone, name: String, project: String, bucket: String, key: String, tags: [String]) async throws -> CloudSnapshot {
        Self.snapshot(try await call(zone) { z in
            try await instance.importSnapshot(zone: z, ImportInstanceSnapshotRequest(name: name, project: project, bucket: bucket, key: key, tags: tags))
        })
    }

    func getInstanceSnapshot(zone: Zone, id: String) async throws -> CloudSnapshot {
        Self.snapshot(try await call(zone) { z in try await instance.getSnapshot(zone: z, id: id) })
    }

    func exportInstanceSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws {
        _ = try await call(zone) { z in try await instance.exportSnapshot(zone: z, id: id, bucket: bucket, key: key) }
    }

    func deleteInstanceSnapshot(zone: Zone, id: String) async throws {
        try await call(zone) { z in try await instance.deleteSnapshot(zone: z, id: id) }
    }

    func listInstanceSnapshots(zone: Zone, project: String?) async throws -> [CloudSnapshot] {
        try await call(zone) { z in
            try await instance.listSnapshots(zone: z, filter: InstanceListFilter(project: project, tags: [Naming.tag]))
        }.map(Self.snapshot)
    }

    // MARK: block

    func getBlockVolume(zone: Zone, id: String) async throws -> CloudVolume {
        Self.volume(try await call(zone) { z in try await block.getVolume(zone: z, id: id) })
    }

    func createBlockVolume(zone: Zone, name: String, project: String, snapshotID: String, perfIOPS: Int, tags: [String]) async throws -> CloudVolume {
        Self.volume(try await call(zone) { z in
            try await block.createVolume(zone: z, CreateBlockVolumeRequest(name: name, perfIOPS: perfIOPS, projectID: project, tags: tags,
                                                                          source: .snapshot(id: snapshotID, size: nil)))
        })
    }

    func deleteBlockVolume(zone: Zone, id: String) async throws {
        try await call(zone) { z in try await block.deleteVolume(zone: z, id: id) }
    }

    func setBlockVolumeTags(zone: Zone, id: String, tags: [String]) async throws {
        _ = try await call(zone) { z in try await block.updateVolumeTags(zone: z, id: id, tags: tags) }
    }

    func listBlockVolumes(zone: Zone, project: String?, tags: [String]) async throws -> [CloudVolume] {
        try await call(zone) { z in
            try await block.listVolumes(zone: z, filter: BlockListFilter(projectID: project, tags: tags))
        }.map(Self.volume)
    }

    func createBlockSnapshot(zone: Zone, name: String, volumeID: String, project: String, tags: [String]) async throws -> CloudSnapshot {
        Self.snapshot(try await call(zone) { z in
            try await block.createSnapshot(zone: z, CreateBlockSnapshotRequest(volumeID: volumeID, name: name, projectID: project, tags: tags))
        })
    }

    func importBlockSnapshot(zone: Zone, name: String, project: String, bucket: String, key: String, tags: [String]) async throws -> CloudSnapshot {
        Self.snapshot(try await call(zone) { z in
            try await block.importSnapshot(zone: z, ImportBlockSnapshotRequest(bucket: bucket, key: key, name: name, projectID: project, tags: tags))
        })
    }

    func getBlockSnapshot(zone: Zone, id: String) async throws -> CloudSnapshot {
        Self.snapshot(try await call(zone) { z in try await block.getSnapshot(zone: z, id: id) })
    }

    func exportBlockSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws {
        _ = try await call(zone) { z in try await block.exportSnapshot(zone: z, id: id, bucket: bucket, key: key) }
    }

    func deleteBlockSnapshot(zone: Zone, id: String) async throws {
        try await call(zone) { z in try await block.deleteSnapshot(zone: z, id: id) }
    }

    func listBlockSnapshots(zone: Zone, project: String?) async throws -> [CloudSnapshot] {
        try await call(zone) { z in
            try await block.listSnapshots(zone: z, filter: BlockListFilter(projectID: project, tags: [Naming.tag]))
        }.map(Self.snapshot)
    }
}
