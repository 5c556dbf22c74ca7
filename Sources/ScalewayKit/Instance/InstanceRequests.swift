/// How a server's volume map names a volume, in `POST /servers` and
/// `PATCH /servers/{id}` (which takes the COMPLETE map: an index left out is detached).
public enum ServerVolumeTemplate: Sendable, Hashable, Encodable {
    /// An existing Block Storage volume: `{"id", "volume_type": "sbs_volume"}`.
    case blockVolume(id: String)
    /// An existing l_ssd volume: `{"id", "boot": false, "name"}`.
    case localVolume(id: String, name: String?, boot: Bool = false)
    /// A new l_ssd volume from an Instance snapshot: `{"name", "volume_type": "l_ssd", "base_snapshot"}`.
    case localVolumeFromSnapshot(name: String, snapshotID: String, size: Int64? = nil)

    enum CodingKeys: String, CodingKey {
        case id, name, boot, size
        case volumeType = "volume_type", baseSnapshot = "base_snapshot"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .blockVolume(let id):
            try container.encode(id, forKey: .id)
            try container.encode("sbs_volume", forKey: .volumeType)
        case .localVolume(let id, let name, let boot):
            try container.encode(id, forKey: .id)
            try container.encode(boot, forKey: .boot)
            try container.encodeIfPresent(name, forKey: .name)
        case .localVolumeFromSnapshot(let name, let snapshotID, let size):
            try container.encode(name, forKey: .name)
            try container.encode("l_ssd", forKey: .volumeType)
            try container.encode(snapshotID, forKey: .baseSnapshot)
            try container.encodeIfPresent(size, forKey: .size)
        }
    }
}

/// `POST /servers`.
public struct CreateServerRequest: Sendable, Hashable, Encodable {
    public var name: String
    public var commercialType: String
    public var project: String
    public var tags: [String]
    public var bootType: String?
    public var dynamicIPRequired: Bool?
    public var enableIPv6: Bool?
    public var securityGroup: String?
    public var placementGroup: String?
    public var publicIPs: [String]?
    public var volumes: [String: ServerVolumeTemplate]

    enum CodingKeys: String, CodingKey {
        case name, project, tags, volumes
        case commercialType = "commercial_type", bootType = "boot_type", dynamicIPRequired = "dynamic_ip_required"
        case enableIPv6 = "enable_ipv6", securityGroup = "security_group", placementGroup = "placement_group"
        case publicIPs = "public_ips"
    }

    public init(name: String, commercialType: String, project: String, tags: [String] = [], bootType: String? = "local",
                dynamicIPRequired: Bool? = nil, enableIPv6: Bool? = nil, securityGroup: String? = nil,
                placementGroup: String? = nil, publicIPs: [String]? = nil, volumes: [String: ServerVolumeTemplate]) {
        self.name = name; self.commercialType = commercialType; self.project = project; self.tags = tags
        self.bootType = bootType; self.dynamicIPRequired = dynamicIPRequired; self.enableIPv6 = enableIPv6
        self.securityGroup = securityGroup; self.placementGroup = placementGroup; self.publicIPs = publicIPs
        self.volumes = volumes
    }
}

/// `POST /snapshots` from a volume.
public struct CreateInstanceSnapshotRequest: Sendable, Hashable, Encodable {
    public var name: String
    public var volumeID: String
    public var project: String
    public var tags: [String]?

    enum CodingKeys: String, CodingKey { case name, project, tags, volumeID = "volume_id" }

    public init(name: String, volumeID: String, project: String, tags: [String]? = nil) {
        self.name = name; self.volumeID = volumeID; self.project = project; self.tags = tags
    }
}

/// `POST /snapshots` importing a QCOW2 object from a bucket of the zone's region.
public struct ImportInstanceSnapshotRequest: Sendable, Hashable, Encodable {
    public var name: String
    public var project: String
    public var bucket: String
    public var key: String
    /// Without it the snapshot takes the image's virtual size.
    public var size: Int64?
    public var tags: [String]?
    public let volumeType = "l_ssd"

    enum CodingKeys: String, CodingKey { case name, project, bucket, key, size, tags, volumeType = "volume_type" }

    public init(name: String, project: String, bucket: String, key: String, size: Int64? = nil, tags: [String]? = nil) {
        self.name = name; self.project = project; self.bucket = bucket; self.key = key; self.size = size; self.tags = tags
    }
}

/// `POST /volumes` (l_ssd), empty of `size` bytes or from an Instance snapshot.
public struct CreateInstanceVolumeRequest: Sendable, Hashable, Encodable {
    public var name: String
    public var project: String
    public var size: Int64?
    public var baseSnapshot: String?
    public var tags: [String]?
    public let volumeType = "l_ssd"

    enum CodingKeys: String, CodingKey { case name, project, size, tags, baseSnapshot = "base_snapshot", volumeType = "volume_type" }

    public static func empty(name: String, project: String, size: Int64, tags: [String]? = nil) -> Self {
        Self(name: name, project: project, size: size, baseSnapshot: nil, tags: tags)
    }

    public static func fromSnapshot(name: String, project: String, snapshotID: String, tags: [String]? = nil) -> Self {
        Self(name: name, project: project, size: nil, baseSnapshot: snapshotID, tags: tags)
    }
}

/// Filters of the Instance list calls (`name` is a substring match on the API side).
public struct InstanceListFilter: Sendable, Hashable {
    public var name: String?
    public var project: String?
    public var tags: [String]

    public init(name: String? = nil, project: String? = nil, tags: [String] = []) {
        self.name = name; self.project = project; self.tags = tags
    }

    var query: [(String, String)] {
        var query: [(String, String)] = []
        if let name { query.append(("name", name)) }
        if let project { query.append(("project", project)) }
        if !tags.isEmpty { query.append(("tags", tags.joined(separator: ","))) }
        return query
    }
}
