/// A Scaleway availability zone such as `fr-par-1`, and its region.
public struct Zone: Sendable, Hashable, CustomStringConvertible, Codable {
    public let name: String

    /// Every zone the connector knows, in the order it searches them when
    /// the `zone` key is omitted: Paris first (most instances live there),
    /// then Amsterdam, Warsaw and Milan; within a region, zone 1 first.
    public static let searchOrder: [Zone] = [
        "fr-par-1", "fr-par-2", "fr-par-3",
        "nl-ams-1", "nl-ams-2", "nl-ams-3",
        "pl-waw-1", "pl-waw-2", "pl-waw-3",
        "it-mil-1",
    ].map { Zone(unchecked: $0) }

    private init(unchecked name: String) { self.name = name }

    /// Parses a zone name; `nil` unless it is one of ``searchOrder``.
    public init?(_ text: String) {
        guard Zone.searchOrder.contains(where: { $0.name == text }) else { return nil }
        self.name = text
    }

    /// The region: the zone without its last `-N` (`fr-par-2` -> `fr-par`).
    public var region: String {
        guard let dash = name.lastIndex(of: "-") else { return name }
        return String(name[..<dash])
    }

    /// The zones of `region`, in search order.
    public static func zones(inRegion region: String) -> [Zone] {
        searchOrder.filter { $0.region == region }
    }

    public var description: String { name }

    public init(from decoder: Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        self.name = text
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(name)
    }
}
