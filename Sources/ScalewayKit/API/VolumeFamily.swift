/// Which API manages a volume: THE rule, in one place.
///
/// Read from `server.volumes["N"].volume_type`:
/// - `l_ssd` (local SSD): the Instance API snapshots, exports, imports and creates it.
/// - `sbs_volume` (Block Storage, `sbs_5k`/`sbs_15k`): the Block API. The
///   Instance API answers 404 `instance_volume` for these ids.
/// - `scratch`: ephemeral, cannot be snapshotted: skipped.
/// - `b_ssd`, `unified`: deprecated (b_ssd data was migrated to SBS).
public enum VolumeFamily: Sendable, Hashable, CustomStringConvertible {
    case localSSD
    case blockStorage
    case scratch
    case deprecated(String)
    case unknown(String)

    public init(volumeType: String) {
        switch volumeType {
        case "l_ssd": self = .localSSD
        case "sbs_volume", "sbs_5k", "sbs_15k": self = .blockStorage
        case "scratch": self = .scratch
        case "b_ssd", "unified": self = .deprecated(volumeType)
        default: self = .unknown(volumeType)
        }
    }

    /// The API that manages volumes of this family, or `nil` if none can back them up.
    public var api: VolumeAPI? {
        switch self {
        case .localSSD: .instance
        case .blockStorage: .block
        case .scratch, .deprecated, .unknown: nil
        }
    }

    /// The `volume_type` the Instance API uses for this family in server volume maps.
    public var instanceVolumeType: String {
        switch self {
        case .localSSD: "l_ssd"
        case .blockStorage: "sbs_volume"
        case .scratch: "scratch"
        case .deprecated(let type), .unknown(let type): type
        }
    }

    /// Why a volume of this family cannot be backed up, or `nil` when it can.
    public var unsupportedReason: String? {
        switch self {
        case .localSSD, .blockStorage: nil
        case .scratch: "scratch volumes are ephemeral and cannot be snapshotted"
        case .deprecated(let type): "volume type \(type) is deprecated; migrate the volume to Block Storage (SBS) first"
        case .unknown(let type): "volume type \(type) is not supported"
        }
    }

    public var description: String { instanceVolumeType }
}

/// The two APIs that manage volumes and their snapshots.
public enum VolumeAPI: String, Sendable, Hashable {
    case instance
    case block
}
