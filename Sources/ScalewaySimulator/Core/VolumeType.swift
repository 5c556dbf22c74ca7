/// The volume families the simulator models.
///
/// `l_ssd` volumes belong to the Instance API; `sbs_5k` and `sbs_15k` are
/// Block Storage volumes (perf_iops 5000 and 15000), which servers list as
/// `sbs_volume`.
public enum VolumeType: String, Sendable, Codable, CaseIterable {
    case lSSD = "l_ssd"
    case sbs5k = "sbs_5k"
    case sbs15k = "sbs_15k"

    public var isBlock: Bool { self != .lSSD }

    /// The `volume_type` a server's volumes map shows.
    var serverVolumeType: String { isBlock ? "sbs_volume" : "l_ssd" }

    var perfIOPS: Int { self == .sbs15k ? 15000 : 5000 }

    init?(perfIOPS: Int64) {
        switch perfIOPS {
        case 5000: self = .sbs5k
        case 15000: self = .sbs15k
        default: return nil
        }
    }
}
