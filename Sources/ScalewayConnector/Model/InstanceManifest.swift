import Foundation
import PluginProtocol

/// `/instance.json`: everything a restore needs and a human wants.
///
/// Written by backup, read back by restore. Never holds a secret. The
/// format is versioned by ``formatVersion``; restore refuses versions it
/// does not know. Network facts are informational (restore does not
/// recreate IPs, security groups or placement groups).
public struct InstanceManifest: Codable, Sendable, Equatable {
    /// The format written by this build; restore accepts 1...current.
    public static let currentFormatVersion = 1
    public static let kind = "scaleway-instance"

    public var formatVersion: Int
    public var kind: String
    public var plugin: PluginInfo
    public var runID: String
    public var createdAt: String
    public var consistency: Consistency
    public var labels: Labels
    public var server: ServerDescription
    /// Every backed-up volume, by index (key of the server's volumes map).
    public var volumes: [VolumeRecord]
    /// Volumes present on the server but not backed up (scratch), with why.
    public var skippedVolumes: [SkippedVolume]

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", kind, plugin, runID = "backup_id", createdAt = "created_at"
        case consistency, labels, server, volumes, skippedVolumes = "skipped_volumes"
    }

    public init(plugin: PluginInfo, runID: String, createdAt: String, consistency: Consistency, labels: Labels,
                server: ServerDescription, volumes: [VolumeRecord], skippedVolumes: [SkippedVolume]) {
        self.formatVersion = Self.currentFormatVersion
        self.kind = Self.kind
        self.plugin = plugin
        self.runID = runID
        self.createdAt = createdAt
        self.consistency = consistency
        self.labels = labels
        self.server = server
        self.volumes = volumes
        self.skippedVolumes = skippedVolumes
    }

    /// The root (boot) volume: index 0.
    public var rootVolume: VolumeRecord? { volumes.first(where: { $0.index == 0 }) }

    /// Pretty, key-sorted JSON (stable across runs for equal content).
    public func encoded() -> [UInt8] { ManifestCoding.encode(self) }

    /// Parses and checks `/instance.json`.
    /// - Throws: ``PluginError`` `invalid_input` naming what is wrong.
    public static func decode(_ bytes: [UInt8]) throws -> InstanceManifest {
        let manifest: InstanceManifest = try ManifestCoding.decode(bytes, what: "instance.json")
        try manifest.check()
        return manifest
    }

    func check() throws {
        guard kind == Self.kind else {
            throw PluginErrorFactory.invalidInput("instance.json describes a \"\(kind)\", not a \(Self.kind)")
        }
        try ManifestCoding.checkVersion(formatVersion, what: "instance.json")
        guard !volumes.isEmpty else { throw PluginErrorFactory.invalidInput("instance.json lists no volume") }
        var seen = Set<Int>()
        for volume in volumes {
            try volume.check(what: "instance.json")
            guard seen.insert(volume.index).inserted else {
                throw PluginErrorFactory.invalidInput("instance.json lists volume index \(volume.index) twice")
            }
        }
        guard !server.commercialType.isEmpty, Zone(server.zone) != nil else {
            throw PluginErrorFactory.invalidInput("instance.json has no valid server commercial_type or zone")
        }
    }
}

/// Which plugin build wrote a file.
public struct PluginInfo: Codable, Sendable, Equatable {
    public var name: String
    public var version: String

    public static let current = PluginInfo(name: "plakar-scaleway", version: PluginVersion.string)
}

/// The build's version, written into every manifest.
public enum PluginVersion {
    public static let string = "0.1.0"
}

/// User labels copied from the configuration.
public struct Labels: Codable, Sendable, Equatable {
    public var environment: String?
    public var dataClass: String?

    enum CodingKeys: String, CodingKey { case environment, dataClass = "data_class" }

    public init(environment: String?, dataClass: String?) {
        self.environment = environment
        self.dataClass = dataClass
    }

    /// Unset labels are written as `null`, so a reader sees every label key.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(environment, forKey: .environment)
        try c.encode(dataClass, forKey: .dataClass)
    }
}

/// A reference to a named resource (`{id, name}`).
public struct ResourceRef: Codable, Sendable, Equatable {
    public var id: String
    public var name: String?

    public init(id: String, name: String?) {
        self.id = id
        self.name = name
    }
}

/// The server as it was when backed up.
public struct ServerDescription: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var hostname: String?
    public var commercialType: String
    public var zone: String
    public var project: String
    public var organization: String?
    public var tags: [String]
    public var bootType: String?
    public var arch: String?
    public var state: String?
    public var image: ResourceRef?
    public var securityGroup: ResourceRef?
    public var placementGroup: ResourceRef?
    public var network: NetworkFacts

    enum CodingKeys: String, CodingKey {
        case id, name, hostname, commercialType = "commercial_type", zone, project, organization, tags
        case bootType = "boot_type", arch, state, image, securityGroup = "security_group"
        case placementGroup = "placement_group", network
    }

    public init(id: String, name: String, hostname: String?, commercialType: String, zone: String, project: String,
                organization: String?, tags: [String], bootType: String?, arch: String?, state: String?,
                image: ResourceRef?, securityGroup: ResourceRef?, placementGroup: ResourceRef?, network: NetworkFacts) {
        self.id = id
        self.name = name
        self.hostname = hostname
        self.commercialType = commercialType
        self.zone = zone
        self.project = project
        self.organization = organization
        self.tags = tags
        self.bootType = bootType
        self.arch = arch
        self.state = state
        self.image = image
        self.securityGroup = securityGroup
        self.placementGroup = placementGroup
        self.network = network
    }
}

/// Network facts, informational only (restore does not recreate them).
public struct NetworkFacts: Codable, Sendable, Equatable {
    public var publicIPs: [String]
    public var privateIP: String?
    public var macAddress: String?
    public var enableIPv6: Bool?
    public var routedIPEnabled: Bool?
    public var dynamicIPRequired: Bool?
    public var privateNICs: Int

    enum CodingKeys: String, CodingKey {
        case publicIPs = "public_ips", privateIP = "private_ip", macAddress = "mac_address"
        case enableIPv6 = "enable_ipv6", routedIPEnabled = "routed_ip_enabled"
        case dynamicIPRequired = "dynamic_ip_required", privateNICs = "private_nics"
    }

    public init(publicIPs: [String], privateIP: String?, macAddress: String?, enableIPv6: Bool?,
                routedIPEnabled: Bool?, dynamicIPRequired: Bool?, privateNICs: Int) {
        self.publicIPs = publicIPs
        self.privateIP = privateIP
        self.macAddress = macAddress
        self.enableIPv6 = enableIPv6
        self.routedIPEnabled = routedIPEnabled
        self.dynamicIPRequired = dynamicIPRequired
        self.privateNICs = privateNICs
    }
}

/// A server volume skipped by backup.
public struct SkippedVolume: Codable, Sendable, Equatable {
    public var index: Int
    public var id: String
    public var volumeType: String
    public var reason: String

    enum CodingKeys: String, CodingKey { case index, id, volumeType = "volume_type", reason }

    public init(index: Int, id: String, volumeType: String, reason: String) {
        self.index = index
        self.id = id
        self.volumeType = volumeType
        self.reason = reason
    }
}
