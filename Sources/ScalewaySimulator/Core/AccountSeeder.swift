import Foundation

/// Creates a new account in a state directory from a ``Seed``: ids, key
/// secrets, volume contents (sparse files), buckets in the object store.
enum AccountSeeder {
    struct SeedError: Error, CustomStringConvertible {
        var message: String
        var description: String { "invalid seed: \(message)" }
    }

    static func seed(_ seed: Seed, into stateDirectory: String, createBucket: (BucketInfo) throws -> Void,
                     durations: SimDurations) throws -> AccountStore {
        let now = Date()
        let projects = seed.projects.map { ProjectRecord(id: $0.id ?? Identifier.make(), name: $0.name) }
        guard let defaultProject = projects.first?.id else { throw SeedError(message: "at least one project is required") }
        let zone = seed.zone ?? "fr-par-1"
        guard Zone.isValid(zone) else { throw SeedError(message: "unknown zone \(zone)") }

        let keys = seed.keys.map { key -> APIKey in
            let expiry = key.expiresAt ?? (key.expired == true ? now.addingTimeInterval(-3600) : nil)
            return APIKey(accessKey: key.accessKey ?? accessKey(), secretKey: key.secretKey ?? Identifier.make(),
                          projectID: key.projectID ?? defaultProject, permissionSets: Set(key.permissionSets),
                          expiresAt: expiry, description: key.name)
        }
        let buckets = seed.buckets.map {
            BucketInfo(name: $0.name, region: $0.region ?? Zone.region(of: zone), projectID: $0.projectID ?? defaultProject)
        }
        var state = AccountState(organizationID: defaultProject, defaultZone: zone, projects: projects, keys: keys,
                                 buckets: buckets, servers: [:], volumes: [:], snapshots: [:],
                                 quotas: seed.quotas ?? Quotas(), durations: durations,
                                 seedFaults: seed.faults ?? [])
        var contents: [(String, Int64, [ContentRegion])] = []

        func addVolume(_ v: Seed.Volume, serverID: String?, serverZone: String?, projectID: String?) throws -> String {
            let id = v.id ?? Identifier.make()
            let volumeZone = v.zone ?? serverZone ?? zone
            guard v.size > 0 else { throw SeedError(message: "volume \(v.name) has no size") }
            for region in v.content ?? [] where region.offset < 0 || region.offset + region.length > v.size {
                throw SeedError(message: "volume \(v.name): a content region ends beyond the volume's size")
            }
            var record = VolumeRecord(id: id, name: v.name, projectID: v.projectID ?? projectID ?? defaultProject,
                                      zone: volumeZone, type: v.type, size: v.size, tags: v.tags ?? [],
                                      state: v.type.isBlock ? "available" : "available", createdAt: now, modifiedAt: now)
            if let serverID {
                record.serverID = serverID
                if v.type.isBlock {
                    record.reference = .init(id: Identifier.make(), serverID: serverID, createdAt: now, status: "attached")
                    record.state = "in_use"
                }
            }
            state.volumes[id] = record
            contents.append((id, v.size, v.content ?? []))
            return id
        }

        for server in seed.servers {
            let id = server.id ?? Identifier.make()
            let serverZone = server.zone ?? zone
            var volumes: [String: String] = [:]
            for (index, volume) in server.volumes {
                volumes[index] = try addVolume(volume, serverID: id, serverZone: serverZone, projectID: server.projectID)
            }
            let serverState = server.state ?? "stopped"
            guard ["running", "stopped", "stopped in place"].contains(serverState) else {
                throw SeedError(message: "server \(server.name): state must be running, stopped or stopped in place")
            }
            state.servers[id] = ServerRecord(
                id: id, name: server.name, hostname: ScalewayAPI.hostname(server.name),
                projectID: server.projectID ?? defaultProject, zone: serverZone,
                commercialType: server.commercialType ?? "DEV1-S", arch: "x86_64", bootType: "local",
                tags: server.tags ?? [], state: serverState, stateDetail: serverState == "running" ? "booted" : "",
                volumes: volumes, macAddress: ScalewayAPI.macAddress(), dynamicIPRequired: false, enableIPv6: false,
                protected: false, securityGroupID: ScalewayAPI.defaultSecurityGroup, createdAt: now, modifiedAt: now)
        }
        for volume in seed.volumes ?? [] {
            _ = try addVolume(volume, serverID: nil, serverZone: nil, projectID: nil)
        }

        for bucket in buckets { try createBucket(bucket) }
        // Contents first, then the state file: a half-seeded directory has no state.json and is seeded again.
        try FileManager.default.createDirectory(atPath: stateDirectory + "/volumes", withIntermediateDirectories: true)
        for (id, size, regions) in contents {
            let path = stateDirectory + "/volumes/\(id).img"
            try SparseFile.create(at: path, size: size)
            try ContentPattern.write(regions, to: path)
        }
        return try AccountStore.create(stateDirectory: stateDirectory, state: state)
    }

    /// `SCW` + 17 characters, the shape of a Scaleway access key.
    static func accessKey() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return "SCW" + String((0..<17).map { _ in alphabet.randomElement()! })
    }
}
