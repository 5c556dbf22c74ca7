import Foundation

/// A snapshot: an Instance snapshot of an `l_ssd` volume, or a Block
/// snapshot of an SBS volume. Its content is a sparse file in `snapshots/`.
struct SnapshotRecord: Sendable, Codable, Equatable {
    enum Family: String, Sendable, Codable {
        case instance
        case block
    }

    struct BaseVolume: Sendable, Codable, Equatable {
        var id: String
        var name: String
        var type: VolumeType
    }

    var id: String
    var name: String
    var projectID: String
    var zone: String
    var family: Family
    var volumeType: VolumeType
    var size: Int64
    var tags: [String]
    /// Instance: available, snapshotting, error, invalid_data, importing,
    /// exporting. Block: creating, available, error, exporting, deleting.
    var state: String
    var baseVolume: BaseVolume?
    var createdAt: Date
    var modifiedAt: Date
    var errorDetails: String?
    var isPublic: Bool
    var pending: PendingOperation?
}
