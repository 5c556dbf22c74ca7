/// The calls that exist in both families, dispatched on the family.
extension ComputeAPI {
    func getVolume(_ family: VolumeFamily, zone: Zone, id: String) async throws -> CloudVolume {
        try await serve(family, { try await getInstanceVolume(zone: zone, id: id) }, { try await getBlockVolume(zone: zone, id: id) })
    }

    func deleteVolume(_ family: VolumeFamily, zone: Zone, id: String) async throws {
        try await serve(family, { try await deleteInstanceVolume(zone: zone, id: id) }, { try await deleteBlockVolume(zone: zone, id: id) })
    }

    func getSnapshot(_ family: VolumeFamily, zone: Zone, id: String) async throws -> CloudSnapshot {
        try await serve(family, { try await getInstanceSnapshot(zone: zone, id: id) }, { try await getBlockSnapshot(zone: zone, id: id) })
    }

    func deleteSnapshot(_ family: VolumeFamily, zone: Zone, id: String) async throws {
        try await serve(family, { try await deleteInstanceSnapshot(zone: zone, id: id) },
                        { try await deleteBlockSnapshot(zone: zone, id: id) })
    }

    /// Replaces the tags of a volume of either family.
    func setVolumeTags(_ family: VolumeFamily, zone: Zone, id: String, tags: [String]) async throws {
        try await serve(family, { try await setInstanceVolumeTags(zone: zone, id: id, tags: tags) },
                        { try await setBlockVolumeTags(zone: zone, id: id, tags: tags) })
    }

    /// Runs `instance` for l_ssd (Instance API), `block` for SBS (Block API).
    private func serve<T>(_ family: VolumeFamily, isolation: isolated (any Actor)? = #isolation,
                          _ instance: () async throws -> T, _ block: () async throws -> T) async throws -> T {
        switch family {
        case .lSSD: try await instance()
        case .sbs: try await block()
        }
    }
}
