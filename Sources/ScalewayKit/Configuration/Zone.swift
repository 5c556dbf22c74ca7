/// A Scaleway availability zone such as `fr-par-1`.
///
/// Zones are where Instance servers, volumes and snapshots live; every
/// Instance and Block API path is zonal (`/instance/v1/zones/{zone}/...`).
/// The region is the zone without its trailing `-N` (`fr-par-2` -> `fr-par`).
public struct Zone: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Accepts only the zones Scaleway documents, so a typo fails at
    /// configuration time instead of as a 404 deep inside a backup.
    public init?(rawValue: String) {
        guard Zone.all.contains(where: { $0.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    private init(known: String) { rawValue = known }

    public static let frPar1 = Zone(known: "fr-par-1")
    public static let frPar2 = Zone(known: "fr-par-2")
    public static let frPar3 = Zone(known: "fr-par-3")
    public static let nlAms1 = Zone(known: "nl-ams-1")
    public static let nlAms2 = Zone(known: "nl-ams-2")
    public static let nlAms3 = Zone(known: "nl-ams-3")
    public static let plWaw1 = Zone(known: "pl-waw-1")
    public static let plWaw2 = Zone(known: "pl-waw-2")
    public static let plWaw3 = Zone(known: "pl-waw-3")
    public static let itMil1 = Zone(known: "it-mil-1")

    /// Every zone, in the order a cross-zone search should try them
    /// (Paris first: it hosts most resources).
    public static let all: [Zone] = [
        .frPar1, .frPar2, .frPar3, .nlAms1, .nlAms2, .nlAms3, .plWaw1, .plWaw2, .plWaw3, .itMil1,
    ]

    /// The region this zone belongs to: the zone name minus its `-N` suffix.
    public var region: Region {
        let cut = rawValue.lastIndex(of: "-")!
        return Region(uncheckedRawValue: String(rawValue[..<cut]))
    }

    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let zone = Zone(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "unknown Scaleway zone \(text)"))
        }
        self = zone
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

/// A Scaleway region such as `fr-par`: the scope of Object Storage buckets
/// and of the SigV4 credential scope.
public struct Region: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(rawValue: String) {
        guard Region.all.contains(where: { $0.rawValue == rawValue }) else { return nil }
        self.rawValue = rawValue
    }

    init(uncheckedRawValue: String) { rawValue = uncheckedRawValue }

    public static let frPar = Region(uncheckedRawValue: "fr-par")
    public static let nlAms = Region(uncheckedRawValue: "nl-ams")
    public static let plWaw = Region(uncheckedRawValue: "pl-waw")
    public static let itMil = Region(uncheckedRawValue: "it-mil")

    public static let all: [Region] = [.frPar, .nlAms, .plWaw, .itMil]

    /// The zones of this region.
    public var zones: [Zone] { Zone.all.filter { $0.region == self } }

    /// The public Object Storage endpoint of this region, `https://s3.{region}.scw.cloud`.
    public var defaultS3Endpoint: String { "https://s3.\(rawValue).scw.cloud" }

    public var description: String { rawValue }
}
