// Instance API v1 objects. Every field except `id` is optional so decoding
// tolerates nulls, missing fields (the minimal SBS entries in a server's
// volume map) and fields added later; unknown fields are ignored.

/// A `{id, name}` reference as the Instance API nests it.
public struct InstanceReference: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
}

/// An Instance server.
public struct InstanceServer: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
    public var hostname: String?
    public var organization: String?
    public var project: String?
    public var tags: [String]?
    public var commercialType: String?
    /// `running`, `stopped`, `stopped in place`, `starting`, `stopping`, `locked`.
    public var state: String?
    public var stateDetail: String?
    public var allowedActions: [String]?
    public var arch: String?
    public var bootType: String?
    public var image: InstanceServerImage?
    /// Keyed by index; "0" is the root (boot) volume.
    public var volumes: [String: InstanceServerVolume]?
    public var publicIP: InstanceIP?
    public var publicIPs: [InstanceIP]?
    public var privateIP: String?
    public var privateNICs: [InstancePrivateNIC]?
    public var macAddress: String?
    public var routedIPEnabled: Bool?
    public var dynamicIPRequired: Bool?
    public var enableIPv6: Bool?
    public var ipv6: APIValue?
    public var securityGroup: InstanceReference?
    public var placementGroup: InstanceReference?
    public var protected: Bool?
    public var location: APIValue?
    public var creationDate: String?
    public var modificationDate: String?
    public var zone: String?

    enum CodingKeys: String, CodingKey {
        case id, name, hostname, organization, project, tags, state, arch, image, volumes, ipv6, protected, location, zone
        case commercialType = "commercial_type", stateDetail = "state_detail", allowedActions = "allowed_actions"
        case bootType = "boot_type", publicIP = "public_ip", publicIPs = "public_ips", privateIP = "private_ip"
        case privateNICs = "private_nics", macAddress = "mac_address", routedIPEnabled = "routed_ip_enabled"
        case dynamicIPRequired = "dynamic_ip_required", enableIPv6 = "enable_ipv6", securityGroup = "security_group"
        case placementGroup = "placement_group", creationDate = "creation_date", modificationDate = "modification_date"
    }

    /// The volume entries sorted by index ("0" first).
    public var sortedVolumes: [(index: String, volume: InstanceServerVolume)] {
        (volumes ?? [:]).sorted { (Int($0.key) ?? Int.max, $0.key) < (Int($1.key) ?? Int.max, $1.key) }
            .map { (index: $0.key, volume: $0.value) }
    }
}

/// The image a server was created from (informational).
public struct InstanceServerImage: Sendable, Hashable, Codable {
    public var id: String?
    public var name: String?
    public var arch: String?
}

/// A public IP of a server.
public struct InstanceIP: Sendable, Hashable, Codable {
    public var id: String?
    public var address: String?
    public var family: String?
    public var dynamic: Bool?
}

/// A private NIC of a server.
public struct InstancePrivateNIC: Sendable, Hashable, Codable {
    public var id: String?
    public var privateNetworkID: String?
    public var macAddress: String?
    public var state: String?

    enum CodingKeys: String, CodingKey {
        case id, state
        case privateNetworkID = "private_network_id", macAddress = "mac_address"
    }
}

/// One entry of a server's `volumes` map: the full volume for l_ssd, a
/// minimal `{boot, volume_type, id, state?, zone}` for SBS (read size and
/// specs from the Block API).
public struct InstanceServerVolume: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
    public var volumeType: String?
    public var size: Int64?
    public var state: String?
    public var boot: Bool?
    public var tags: [String]?
    public var project: String?
    public var server: InstanceReference?
    public var zone: String?

    enum CodingKeys: String, CodingKey {
        case id, name, size, state, boot, tags, project, server, zone
        case volumeType = "volume_type"
    }

    /// Which API manages this volume.
    public var family: VolumeFamily { VolumeFamily(volumeType: volumeType ?? "") }
}

/// An Instance (l_ssd) volume.
public struct InstanceVolume: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
    public var volumeType: String?
    public var size: Int64?
    /// available, snapshotting, resizing, fetching, saving, hotsyncing, attaching, error.
    public var state: String?
    public var organization: String?
    public var project: String?
    public var tags: [String]?
    public var server: InstanceReference?
    public var exportURI: String?
    public var creationDate: String?
    public var modificationDate: String?
    public var zone: String?

    enum CodingKeys: String, CodingKey {
        case id, name, size, state, organization, project, tags, server, zone
        case volumeType = "volume_type", exportURI = "export_uri"
        case creationDate = "creation_date", modificationDate = "modification_date"
    }
}

/// An Instance snapshot (of an l_ssd volume, or imported from a QCOW2 object).
public struct InstanceSnapshot: Sendable, Hashable, Codable {
    public var id: String
    public var name: String?
    public var organization: String?
    public var project: String?
    public var tags: [String]?
    public var volumeType: String?
    public var size: Int64?
    /// available, snapshotting, error, invalid_data, importing, exporting.
    public var state: String?
    public var baseVolume: InstanceReference?
    public var creationDate: String?
    public var modificationDate: String?
    public var zone: String?
    public var errorDetails: APIValue?

    enum CodingKeys: String, CodingKey {
        case id, name, organization, project, tags, size, state, zone
        case volumeType = "volume_type", baseVolume = "base_volume", creationDate = "creation_date"
        case modificationDate = "modification_date", errorDetails = "error_details"
    }
}

/// The fake task every Instance action returns (its id is all zeros: poll the resource instead).
public struct InstanceTask: Sendable, Hashable, Codable {
    public var id: String?
    public var description: String?
    public var status: String?
    public var hrefFrom: String?
    public var hrefResult: String?
    public var startedAt: String?
    public var terminatedAt: String?
    public var progress: Int?
    public var zone: String?

    enum CodingKeys: String, CodingKey {
        case id, description, status, progress, zone
        case hrefFrom = "href_from", hrefResult = "href_result", startedAt = "started_at", terminatedAt = "terminated_at"
    }
}

/// Actions of `POST /servers/{id}/action`.
public enum ServerAction: String, Sendable, Hashable, Codable {
    case powerOn = "poweron", powerOff = "poweroff", stopInPlace = "stop_in_place", reboot, backup, terminate
}
