import PluginProtocol

/// One backed-up volume: what it was and which snapshot captured it.
public struct VolumeRecord: Codable, Sendable, Equatable {
    /// Key of the server's volumes map; 0 is the root (boot) volume.
    public var index: Int
    public var id: String
    public var name: String
    public var family: VolumeFamily
    /// `l_ssd`, `sbs_5k` or `sbs_15k`.
    public var volumeType: String
    /// Size in bytes.
    public var size: Int64
    /// SBS performance class (5000 or 15000); nil for l_ssd.
    public var perfIOPS: Int?
    public var boot: Bool
    public var tags: [String]
    public var snapshot: SnapshotRef?
    /// The image's file name in the tree, `<index>-<volume-id>.qcow2`.
    public var image: String

    enum CodingKeys: String, CodingKey {
        case index, id, name, family, volumeType = "volume_type", size, perfIOPS = "perf_iops", boot, tags
        case snapshot, image
    }

    public init(index: Int, id: String, name: String, family: VolumeFamily, volumeType: String, size: Int64,
                perfIOPS: Int?, boot: Bool, tags: [String], snapshot: SnapshotRef?) {
        self.index = index
        self.id = id
        self.name = name
        self.family = family
        self.volumeType = volumeType
        self.size = size
        self.perfIOPS = perfIOPS
        self.boot = boot
        self.tags = tags
        self.snapshot = snapshot
        self.image = Naming.imageName(index: index, volumeID: id)
    }

    func check(what: String) throws {
        guard index >= 0, index < 64 else {
            throw PluginErrorFactory.invalidInput("\(what): volume index \(index) is out of range 0..63")
        }
        guard ConfigValidation.isUUID(id) else {
            throw PluginErrorFactory.invalidInput("\(what): volume id \"\(id)\" is not a UUID")
        }
        guard size > 0 else { throw PluginErrorFactory.invalidInput("\(what): volume \(id) has no size") }
        if family == .sbs, let iops = perfIOPS, iops != 5000 && iops != 15000 {
            throw PluginErrorFactory.invalidInput("\(what): volume \(id) has perf_iops \(iops), expected 5000 or 15000")
        }
    }
}

/// The temporary snapshot a backup took of a volume.
public struct SnapshotRef: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// RFC 3339 creation time (also the image's mod_time).
    public var createdAt: String
    /// `instance` or `block`: the API that owns it.
    public var api: String

    enum CodingKeys: String, CodingKey { case id, name, createdAt = "created_at", api }

    public init(id: String, name: String, createdAt: String, api: String) {
        self.id = id
        self.name = name
        self.createdAt = createdAt
        self.api = api
    }
}
