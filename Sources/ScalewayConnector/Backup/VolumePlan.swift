import Logging
import PluginProtocol

/// One volume that backup will snapshot and export.
struct PlannedVolume: Sendable {
    var index: Int
    var id: String
    var name: String
    var family: VolumeFamily
    var volumeType: String
    var size: Int64
    var perfIOPS: Int?
    var boot: Bool
    var tags: [String]

    var imageName: String { Naming.imageName(index: index, volumeID: id) }
    var sidecarName: String { Naming.sidecarName(index: index, volumeID: id) }
    var imagePath: String { "/volumes/\(imageName)" }
    var sidecarPath: String { "/volumes/\(sidecarName)" }
    var familyLabel: String { family == .lSSD ? "l_ssd volume \(id)" : "SBS volume \(id)" }
}

/// The instance as backup sees it: resolved, its volumes classified and
/// sized, access checked.
struct VolumePlan: Sendable {
    var zone: Zone
    var server: CloudServer
    var project: String
    var volumes: [PlannedVolume]
    var skipped: [SkippedVolume]

    private static let logger = Logger(label: "plan")

    /// Classifies and sizes every volume of `server`.
    ///
    /// SBS entries are minimal in the server document: their size, type and
    /// perf_iops come from `GET /block/v1/zones/{zone}/volumes/{id}`, which is
    /// also the cheap read call that shows whether the key has
    /// BlockStorageFullAccess.
    static func make(zone: Zone, server: CloudServer, project: String, compute: any ComputeAPI) async throws -> VolumePlan {
        var volumes: [PlannedVolume] = []
        var skipped: [SkippedVolume] = []
        for index in server.volumes.keys.sorted() {
            let entry = server.volumes[index]!
            guard let family = try VolumeFamily.classify(volumeType: entry.volumeType, volumeID: entry.id) else {
                logger.info("skipping scratch volume \(entry.id) (index \(index)): scratch volumes are ephemeral and cannot be snapshotted")
                skipped.append(SkippedVolume(index: index, id: entry.id, volumeType: entry.volumeType,
                                             reason: "scratch volumes are ephemeral and cannot be snapshotted"))
                continue
            }
            switch family {
            case .lSSD:
                var size = entry.size
                var name = entry.name
                if size == nil || name == nil {
                    let volume = try await CloudFailure.attempt("read l_ssd volume \(entry.id)",
                                                                permissionSet: PermissionSet.instances) {
                        try await compute.getInstanceVolume(zone: zone, id: entry.id)
                    }
                    size = volume.size
                    name = volume.name
                }
                volumes.append(PlannedVolume(index: index, id: entry.id, name: name ?? "", family: .lSSD,
                                             volumeType: "l_ssd", size: size ?? 0, perfIOPS: nil,
                                             boot: index == 0, tags: entry.tags))
            case .sbs:
                let volume = try await CloudFailure.attempt("snapshot SBS volume \(entry.id)",
                                                            permissionSet: PermissionSet.block) {
                    try await compute.getBlockVolume(zone: zone, id: entry.id)
                }
                let iops = volume.perfIOPS ?? (volume.volumeType == "sbs_15k" ? 15000 : 5000)
                volumes.append(PlannedVolume(index: index, id: entry.id, name: volume.name, family: .sbs,
                                             volumeType: volume.volumeType, size: volume.size, perfIOPS: iops,
                                             boot: index == 0, tags: volume.tags))
            }
        }
        guard !volumes.isEmpty else {
            throw PluginError(.unsupported, "instance \(server.id) has no volume that can be backed up",
                              hint: "only l_ssd and SBS volumes can be snapshotted")
        }
        return VolumePlan(zone: zone, server: server, project: project, volumes: volumes, skipped: skipped)
    }
}
