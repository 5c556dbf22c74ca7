/// Scaleway availability zones and the regions they belong to.
enum Zone {
    /// Zones where Instance and Block Storage exist.
    static let all: [String] = [
        "fr-par-1", "fr-par-2", "fr-par-3",
        "nl-ams-1", "nl-ams-2", "nl-ams-3",
        "pl-waw-1", "pl-waw-2", "pl-waw-3",
        "it-mil-1",
    ]

    static func isValid(_ zone: String) -> Bool { all.contains(zone) }

    /// `fr-par-2` -> `fr-par`.
    static func region(of zone: String) -> String {
        guard let dash = zone.lastIndex(of: "-") else { return zone }
        return String(zone[..<dash])
    }
}
