import Foundation

/// A volume (local `l_ssd` or Block Storage `sbs_*`).
///
/// Its content lives in a sparse file named after its id in the state
/// directory's `volumes/` folder.
struct VolumeRecord: Sendable, Codable, Equatable {
    /// The Block API's record of an attachment.
    struct Reference: Sendable, Codable, Equatable {
        var id: String
        var serverID: String
        var createdAt: Date
        /// `attaching`, `attached`, `detaching`.
        var status: String
        /// When an `attaching` or `detaching` reference settles (nil once `attached`).
        var readyAt: Date?
    }

    var id: String
    var name: String
    var projectID: String
    var zone: String
    var type: VolumeType
    /// Logical size in bytes.
    var size: Int64
    var tags: [String]
    /// Instance states (available, snapshotting, ...) for `l_ssd`; Block
    /// statuses (creating, available, in_use, ...) for SBS.
    var state: String
    var serverID: String?
    var reference: Reference?
    var parentSnapshotID: String?
    var createdAt: Date
    var modifiedAt: Date
    var lastDetachedAt: Date?
    var pending: PendingOperation?
}
