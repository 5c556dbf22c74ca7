import Foundation

/// Renders dates the way each Scaleway API does.
///
/// The Instance API writes `2026-08-17T09:36:33.387491+00:00`, the Block API
/// `2026-08-17T09:32:40.934253Z`: both with microseconds, in UTC.
enum Timestamp {
    static func instance(_ date: Date) -> String { format(date, suffix: "+00:00") }
    static func block(_ date: Date) -> String { format(date, suffix: "Z") }

    /// `nil` renders as JSON `null`.
    static func instance(_ date: Date?) -> Any { date.map { instance($0) } ?? NSNull() }
    static func block(_ date: Date?) -> Any { date.map { block($0) } ?? NSNull() }

    private static func format(_ date: Date, suffix: String) -> String {
        let interval = date.timeIntervalSince1970
        var seconds = time_t(interval.rounded(.down))
        let micros = Int(((interval - Double(seconds)) * 1_000_000).rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06d%@",
                      Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday),
                      Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros, suffix)
    }
}

/// Lower-case UUIDs as Scaleway uses for every resource id.
enum Identifier {
    static func make() -> String { UUID().uuidString.lowercased() }
}
