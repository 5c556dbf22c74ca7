/// The facts the connector needs about Scaleway resources, independent of
/// the client library that fetched them (see ``ComputeAPI``).

/// A server (`GET /instance/v1/zones/{zone}/servers/{id}`).
public struct CloudServer: Sendable, Equatable {
    public var id: String
    public var name: String
    public var hostname: String?
    public var organization: String?
    public var project: String
    public var commercialType: String
    public var state: String
    public var zone: String
    public var tags: [String]
    public var bootType: String?
    public var arch: String?
    public var image: ResourceRef?
    public var securityGroup: ResourceRef?
    public var placementGroup: ResourceRef?
    public var publicIPs: [String]
    public var privateIP: String?
    public var macAddress: String?
    public var enableIPv6: Bool?
    public var routedIPEnabled: Bool?
    public var dynamicIPRequired: Bool?
    public var privateNICCount: Int
    /// The volumes map: index -> entry. Index 0 is the root volume.
    public var volumes: [Int: ServerVolumeEntry]

    public init(id: String, name: String, project: String, commercialType: String, state: String, zone: String,
                tags: [String] = [], volumes: [Int: ServerVolumeEntry] = [:]) {
        self.id = id
        self.name = name
        self.project = project
        self.commercialType = commercialType
        self.state = state
        self.zone = zone
        self.tags = tags
        self.volumes = volumes
        self.publicIPs = []
        self.privateNICCount = 0
    }

    public var isRunning: Bool { state == "running" || state == "starting" }
    public var isStopped: Bool { state == "stopped" || state == "stopped in place" }
}

/// One entry of a server's volumes map. SBS entries are minimal: size and
/// specs come from the Block API.
public struct ServerVolumeEntry: Sendable, Equatable {
    public var id: String
    /// `l_ssd`, `sbs_volume`, `scratch`, `b_ssd`, `unified`.
    public var volumeType: String
    public var name: String?
    public var size: Int64?
    public var boot: Bool
    public var tags: [String]
    /// The entry's state: for SBS `attaching` until the attachment settles,
    /// then `available`; nil when the API gave none.
    public var state: String?

    public init(id: String, volumeType: String, name: String? = nil, size: Int64? = nil, boot: Bool = false,
                tags: [String] = [], state: String? = nil) {
        self.id = id
        self.volumeType = volumeType
        self.name = name
        self.size = size
        self.boot = boot
        self.tags = tags
        self.state = state
    }
}

/// A volume of either family.
public struct CloudVolume: Sendable, Equatable {
    public var id: String
    public var name: String
    /// `l_ssd`, `sbs_5k`, `sbs_15k`.
    public var volumeType: String
    public var size: Int64
    public var perfIOPS: Int?
    /// Instance `state` or Block `status`.
    public var status: String
    public var tags: [String]
    /// The server the volume is attached to, if any.
    public var serverID: String?

    public init(id: String, name: String, volumeType: String, size: Int64, perfIOPS: Int? = nil, status: String,
                tags: [String] = [], serverID: String? = nil) {
        self.id = id
        self.name = name
        self.volumeType = volumeType
        self.size = size
        self.perfIOPS = perfIOPS
        self.status = status
        self.tags = tags
        self.serverID = serverID
    }
}

/// A snapshot of either family.
public struct CloudSnapshot: Sendable, Equatable {
    public var id: String
    public var name: String
    public var size: Int64
    /// Instance `state` or Block `status`: `snapshotting`/`creating`,
    /// `available`, `exporting`, `importing`, `error`, `invalid_data`...
    public var status: String
    public var createdAt: String
    public var tags: [String]
    /// Instance `error_details`, when the API gives a reason.
    public var errorDetails: String?

    public init(id: String, name: String, size: Int64, status: String, createdAt: String, tags: [String] = [],
                errorDetails: String? = nil) {
        self.id = id
        self.name = name
        self.size = size
        self.status = status
        self.createdAt = createdAt
        self.tags = tags
        self.errorDetails = errorDetails
    }

    public var isAvailable: Bool { status == "available" }
    public var isFailed: Bool { status == "error" || status == "invalid_data" || status == "deleted" }
}

/// What the server volumes map of a create or update names.
public enum ServerVolumeTemplate: Sendable, Equatable {
    /// An existing l_ssd volume.
    case localVolume(id: String, name: String?)
    /// An existing SBS volume.
    case blockVolume(id: String)
}

/// `POST /servers` request.
public struct CreateServerRequest: Sendable, Equatable {
    public var name: String
    public var commercialType: String
    public var project: String
    public var tags: [String]
    public var bootType: String?
    public var volumes: [Int: ServerVolumeTemplate]

    public init(name: String, commercialType: String, project: String, tags: [String], bootType: String?,
                volumes: [Int: ServerVolumeTemplate]) {
        self.name = name
        self.commercialType = commercialType
        self.project = project
        self.tags = tags
        self.bootType = bootType
        self.volumes = volumes
    }
}

/// Facts about a stored object.
public struct ObjectFacts: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var contentType: String?

    public init(key: String, size: Int64, contentType: String? = nil) {
        self.key = key
        self.size = size
        self.contentType = contentType
    }
}
