import Foundation

/// A long-running operation in flight on a snapshot or volume.
///
/// Stored with the resource so that a restarted simulator resumes it: the
/// work is redone (it is idempotent) and the resource reaches its final
/// state at `readyAt`.
struct PendingOperation: Sendable, Codable, Equatable {
    enum Kind: String, Sendable, Codable {
        /// Copy a volume's content into a new snapshot.
        case snapshot
        /// Write the snapshot as a QCOW2 image to `bucket`/`key`.
        case export
        /// Read a QCOW2 image from `bucket`/`key` into the snapshot.
        case importImage = "import"
        /// Fill a new volume from `sourceID` (a snapshot), or create it empty.
        case createVolume = "create_volume"
    }

    var kind: Kind
    var startedAt: Date
    var readyAt: Date
    var sourceID: String?
    var bucket: String?
    var key: String?
    /// The state the resource returns to (or reaches) when the operation succeeds.
    var finalState: String
    /// An injected fault decided when the operation started, so a restart
    /// replays the same outcome.
    var fault: FaultRule.Action?
    var faultOffset: Int64?
}
