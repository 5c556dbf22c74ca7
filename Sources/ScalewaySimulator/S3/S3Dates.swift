import Foundation

/// Date formats of S3 responses, through the C library (no shared
/// formatter objects between threads).
enum S3Dates {
    /// RFC 7231 date, e.g. `Fri, 04 Dec 2026 15:58:03 GMT` (Last-Modified).
    static func http(_ date: Date) -> String {
        format(date, "%a, %d %b %Y %H:%M:%S GMT")
    }

    /// ISO 8601 with milliseconds, e.g. `2026-12-04T15:58:03.000Z` (XML bodies).
    static func iso8601(_ date: Date) -> String {
        let millis = Int((date.timeIntervalSince1970 * 1000).rounded(.down)) % 1000
        let text = String(millis)
        return format(date, "%Y-%m-%dT%H:%M:%S") + "." + String(repeating: "0", count: 3 - text.count) + text + "Z"
    }

    private static func format(_ date: Date, _ pattern: String) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, pattern, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
