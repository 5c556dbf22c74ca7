/// The calls that exist in both families, dispatched on the family.
extension ComputeAPI {
    func getVolume(_ family: VolumeFamily, zone: Zone, id: String) async throws -> CloudVolume {
        switch family {
        case .lSSD: try await getInstanceVolume(zone: zone, id: id)
        case .sbs: try await getBlockVolume(zone: zone, id: id)
        }
    }

    func deleteVolume(_ family: VolumeFamily, zone: Zone, id: String) async throws {
        switch family {
        case .lSSD: try await deleteInstanceVolume(zone: zone, id: id)
        case .sbs: try await deleteBlockVolume(zone: zone, id: id)
        }
    }

    func getSnapshot(_ family: VolumeFamily, zone: Zone, id: String) async throws -> CloudSnapshot {
        switch family {
        case .lSSD: try await getInstanceSnapshot(zone: zone, id: id)
        case .sbs: try await getBlockSnapshot(zone: zone, id: id)
        }
    }

    func deleteSnapshot(_ family: VolumeFamily, zone: Zone, id: String) async throws {
        switch family {
        case .lSSD: try await deleteInstanceSnapshot(zone: zone, id: id)
        case .sbs: try await deleteBlockSnapshot(zone: zone, id: id)
        }
    }
}
