import Foundation

/// Every resource of the simulated account, persisted as `state.json`.
struct AccountState: Sendable, Codable {
    var organizationID: String
    var defaultZone: String
    var projects: [ProjectRecord]
    var keys: [APIKey]
    var buckets: [BucketInfo]
    var servers: [String: ServerRecord]
    var volumes: [String: VolumeRecord]
    var snapshots: [String: SnapshotRecord]
    var quotas: Quotas
    var durations: SimDurations
    /// Faults from the seed, installed again at every start.
    var seedFaults: [FaultRule]

    func project(_ id: String) -> ProjectRecord? { projects.first { $0.id == id } }

    /// The servers, volumes or snapshots in creation order (stable lists).
    static func ordered<T>(_ values: Dictionary<String, T>.Values, created: (T) -> Date, id: (T) -> String) -> [T] {
        values.sorted { (created($0), id($0)) < (created($1), id($1)) }
    }
}

