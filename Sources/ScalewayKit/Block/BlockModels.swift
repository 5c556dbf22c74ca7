// Block Storage API v1 objects, decoded tolerantly (every field but `id` optional).

/// A resource that uses a volume or snapshot (an attachment).
public struct BlockReference: Sendable, Hashable, Codable {
    public var id: String?
    public var productResourceType: String?
    public var productResourceID: String?
    public var type: String?
    /// attaching, attached, detaching...
    public var status: String?
    public var createdAt: String?

    enum CodingKeys: String, CodingKey {
        case id, type, status
        case productResourceType = "product_resource_type", productResourceID = "product_resource_id", createdAt = "created_at"
    }
}

/// A Block Storage (SBS) volume.
public struct BlockVolume: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
    /// `sbs_5k` or `sbs_15k`.
    public var type: String?
    /// Bytes, 10^9 granularity.
    public var size: Int64?
    public var projectID: String?
    public var createdAt: String?
    public var updatedAt: String?
    public var references: [BlockReference]?
    public var parentSnapshotID: String?
    /// creating, available, in_use, deleting, deleted, resizing, error, snapshotting, locked, updating.
    public var status: String?
    public var tags: [String]?
    public var specs: BlockVolumeSpecs?
    public var lastDetachedAt: String?
    public var kmsKeyID: String?
    public var zone: String?

    enum CodingKeys: String, CodingKey {
        case id, name, type, size, references, status, tags, specs, zone
        case projectID = "project_id", createdAt = "created_at", updatedAt = "updated_at"
        case parentSnapshotID = "parent_snapshot_id", lastDetachedAt = "last_detached_at", kmsKeyID = "kms_key_id"
    }
}

/// Performance class of a Block volume.
public struct BlockVolumeSpecs: Sendable, Hashable, Codable {
    public var perfIOPS: Int?
    public var `class`: String?

    enum CodingKeys: String, CodingKey { case perfIOPS = "perf_iops", `class` }
}

/// A Block Storage snapshot.
public struct BlockSnapshot: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
    public var parentVolume: BlockParentVolume?
    public var size: Int64?
    public var projectID: String?
    public var createdAt: String?
    public var updatedAt: String?
    public var references: [BlockReference]?
    /// creating, available, error, deleting, deleted, in_use, locked, exporting.
    public var status: String?
    public var tags: [String]?
    public var zone: String?
    public var `class`: String?
    public var `public`: Bool?

    enum CodingKeys: String, CodingKey {
        case id, name, size, references, status, tags, zone, `class`, `public`
        case parentVolume = "parent_volume", projectID = "project_id", createdAt = "created_at", updatedAt = "updated_at"
    }
}

/// The volume a Block snapshot was taken from.
public struct BlockParentVolume: Sendable, Hashable, Codable {
    public var id: String?
    public var name: String?
    public var type: String?
    public var status: String?
}

/// `POST /volumes`: an empty volume or one restored from a snapshot.
public struct CreateBlockVolumeRequest: Sendable, Hashable, Encodable {
    public enum Source: Sendable, Hashable {
        /// An empty volume of `size` bytes (1 GB .. 10 TB, 10^9 granularity).
        case empty(size: Int64)
        /// From a Block snapshot; `size` nil keeps the snapshot's size.
        case snapshot(id: String, size: Int64?)
    }

    public var name: String
    /// 5000 (`sbs_5k`) or 15000 (`sbs_15k`).
    public var perfIOPS: Int?
    public var projectID: String
    public var tags: [String]
    public var source: Source

    public init(name: String, perfIOPS: Int?, projectID: String, tags: [String] = [], source: Source) {
        self.name = name; self.perfIOPS = perfIOPS; self.projectID = projectID; self.tags = tags; self.source = source
    }

    enum CodingKeys: String, CodingKey {
        case name, tags, perfIOPS = "perf_iops", projectID = "project_id", fromEmpty = "from_empty", fromSnapshot = "from_snapshot"
    }
    enum SourceKeys: String, CodingKey { case size, snapshotID = "snapshot_id" }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encodeIfPresent(perfIOPS, forKey: .perfIOPS)
        try container.encode(projectID, forKey: .projectID)
        try container.encode(tags, forKey: .tags)
        switch source {
        case .empty(let size):
            var nested = container.nestedContainer(keyedBy: SourceKeys.self, forKey: .fromEmpty)
            try nested.encode(size, forKey: .size)
        case .snapshot(let id, let size):
            var nested = container.nestedContainer(keyedBy: SourceKeys.self, forKey: .fromSnapshot)
            try nested.encode(id, forKey: .snapshotID)
            if let size { try nested.encode(size, forKey: .size) } else { try nested.encodeNil(forKey: .size) }
        }
    }
}

/// `POST /snapshots`.
public struct CreateBlockSnapshotRequest: Sendable, Hashable, Encodable {
    public var volumeID: String
    public var name: String
    public var projectID: String
    public var tags: [String]
    public var isPublic = false

    enum CodingKeys: String, CodingKey { case name, tags, volumeID = "volume_id", projectID = "project_id", isPublic = "public" }

    public init(volumeID: String, name: String, projectID: String, tags: [String] = []) {
        self.volumeID = volumeID; self.name = name; self.projectID = projectID; self.tags = tags
    }
}

/// `POST /snapshots/import-from-object-storage`.
public struct ImportBlockSnapshotRequest: Sendable, Hashable, Encodable {
    public var bucket: String
    public var key: String
    public var name: String
    public var projectID: String
    public var tags: [String]
    public var size: Int64?

    enum CodingKeys: String, CodingKey { case bucket, key, name, tags, size, projectID = "project_id" }

    public init(bucket: String, key: String, name: String, projectID: String, tags: [String] = [], size: Int64? = nil) {
        self.bucket = bucket; self.key = key; self.name = name; self.projectID = projectID; self.tags = tags; self.size = size
    }
}

/// Filters of the Block list calls.
public struct BlockListFilter: Sendable, Hashable {
    public var name: String?
    public var projectID: String?
    public var volumeID: String?
    public var tags: [String]

    public init(name: String? = nil, projectID: String? = nil, volumeID: String? = nil, tags: [String] = []) {
        self.name = name; self.projectID = projectID; self.volumeID = volumeID; self.tags = tags
    }

    var query: [(String, String)] {
        var query: [(String, String)] = []
        if let name { query.append(("name", name)) }
        if let projectID { query.append(("project_id", projectID)) }
        if let volumeID { query.append(("volume_id", volumeID)) }
        for tag in tags { query.append(("tags", tag)) }
        return query
    }
}
