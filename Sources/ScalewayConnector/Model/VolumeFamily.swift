/// Which API family owns a volume: it decides every call made for it.
public enum VolumeFamily: String, Sendable, Codable, Equatable {
    /// Local SSD: Instance API for snapshot, export, import and volume create.
    case lSSD = "l_ssd"
    /// Block Storage (sbs_5k, sbs_15k): Block API.
    case sbs

    /// The family of a server volume entry's `volume_type`, or a refusal.
    ///
    /// - Returns: `nil` for `scratch` (ephemeral: skipped with a log line).
    /// - Throws: ``PluginError`` `unsupported` for deprecated or unknown kinds.
    public static func classify(volumeType: String, volumeID: String) throws -> VolumeFamily? {
        switch volumeType {
        case "l_ssd": return .lSSD
        case "sbs_volume", "sbs_5k", "sbs_15k": return .sbs
        case "scratch": return nil
        case "b_ssd", "unified":
            throw PluginErrorFactory.unsupported(
                "volume \(volumeID) is of the deprecated type \(volumeType), which cannot be snapshotted or exported",
                hint: "migrate the volume to Block Storage (SBS) first (Scaleway migrated b_ssd data to SBS)")
        default:
            throw PluginErrorFactory.unsupported(
                "volume \(volumeID) has the unknown type \(volumeType)",
                hint: "only l_ssd and SBS (sbs_5k, sbs_15k) volumes can be backed up")
        }
    }
}
