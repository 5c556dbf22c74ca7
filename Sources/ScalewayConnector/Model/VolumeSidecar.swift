import PluginProtocol

/// `/volumes/<index>-<volume-id>.json`: a volume's own description.
///
/// Plakar strips path prefixes on partial restores, so a lone volume image
/// must carry enough to be restored without `/instance.json`.
public struct VolumeSidecar: Codable, Sendable, Equatable {
    public static let kind = "scaleway-volume"

    public var formatVersion: Int
    public var kind: String
    public var plugin: PluginInfo
    public var runID: String
    public var createdAt: String
    public var labels: Labels
    /// The server the volume belonged to (id, name, zone, project, type).
    public var server: SidecarServer
    public var volume: VolumeRecord

    enum CodingKeys: String, CodingKey {
        case formatVersion = "format_version", kind, plugin, runID = "backup_id", createdAt = "created_at"
        case labels, server, volume
    }

    public init(manifest: InstanceManifest, volume: VolumeRecord) {
        self.formatVersion = InstanceManifest.currentFormatVersion
        self.kind = Self.kind
        self.plugin = manifest.plugin
        self.runID = manifest.runID
        self.createdAt = manifest.createdAt
        self.labels = manifest.labels
        self.server = SidecarServer(id: manifest.server.id, name: manifest.server.name, zone: manifest.server.zone,
                                    project: manifest.server.project, commercialType: manifest.server.commercialType)
        self.volume = volume
    }

    public func encoded() -> [UInt8] { ManifestCoding.encode(self) }

    public static func decode(_ bytes: [UInt8], fileName: String) throws -> VolumeSidecar {
        let sidecar: VolumeSidecar = try ManifestCoding.decode(bytes, what: fileName)
        guard sidecar.kind == kind else {
            throw PluginErrorFactory.invalidInput("\(fileName) describes a \"\(sidecar.kind)\", not a \(kind)")
        }
        try ManifestCoding.checkVersion(sidecar.formatVersion, what: fileName)
        try sidecar.volume.check(what: fileName)
        return sidecar
    }
}

/// The few server facts a volume sidecar repeats.
public struct SidecarServer: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var zone: String
    public var project: String
    public var commercialType: String

    enum CodingKeys: String, CodingKey { case id, name, zone, project, commercialType = "commercial_type" }
}
