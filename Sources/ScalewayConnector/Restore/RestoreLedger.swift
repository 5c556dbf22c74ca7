/// Everything a restore created or changed, so that cleanup and rollback
/// touch exactly that and never what existed before.
struct RestoreLedger: Sendable {
    /// Multipart uploads not yet completed: key -> upload id.
    var openUploads: [String: String] = [:]
    /// Staging objects written.
    var objects: [String] = []
    /// Snapshots imported (family, id).
    var snapshots: [(family: VolumeFamily, id: String)] = []
    /// Volumes created (family, id, original index).
    var volumes: [(family: VolumeFamily, id: String, index: Int)] = []
    /// The server created (new mode).
    var server: String?
    /// In-place: the target's volumes map before the swap (to put back on failure).
    var originalVolumes: [Int: ServerVolumeTemplate]?
    /// In-place: the volumes detached and kept.
    var detached: [String] = []
    /// In-place: whether the target was running before.
    var targetWasRunning = false
    var targetPoweredOff = false
}
