import Foundation

/// The clock rule of SigV4 and the time formats Object Storage uses to
/// report it.
///
/// S3 refuses a request whose `x-amz-date` is more than 15 minutes away
/// from its own clock (`403 RequestTimeTooSkewed`). A GET answers an XML
/// error carrying `RequestTime` (the signed time, `20261204T193000Z`) and
/// `ServerTime` (`2026-12-04T19:50:00Z` on AWS; some servers use the basic
/// form); a HEAD answers a bare 403 with no body, so the response's `Date`
/// header is the only server time available.
public enum ClockSkew {
    /// The largest difference S3 accepts between the signed time and its clock.
    public static let maximum: TimeInterval = 15 * 60

    /// Parses the time formats S3 uses: the SigV4 basic form
    /// (`20261204T193000Z`), ISO 8601 (`2026-12-04T19:50:00Z`, optionally
    /// with fractional seconds) and the HTTP date (`Fri, 04 Dec 2026 19:50:00 GMT`).
    public static func parse(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        for format in ["yyyyMMdd'T'HHmmss'Z'", "yyyy-MM-dd'T'HH:mm:ss'Z'", "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'",
                       "EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz"] {
            // Formatters are made per call: this runs on error paths only,
            // and DateFormatter is not Sendable.
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = format
            if let date = formatter.date(from: trimmed) { return date }
        }
        return nil
    }

    /// `2026-12-04T19:50:00Z`.
    public static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss'Z'"
        return formatter.string(from: date)
    }

    /// A human length of time: `47 min`, `2 h 05 min`, `40 s`.
    public static func describe(_ seconds: TimeInterval) -> String {
        let total = Int(abs(seconds).rounded())
        if total < 120 { return "\(total) s" }
        // Rounded, not truncated: a 20-minute skew measured as 1199.6 s is "20 min".
        let minutes = Int((Double(total) / 60).rounded())
        if minutes < 120 { return "\(minutes) min" }
        let rest = minutes % 60
        return "\(minutes / 60) h \(rest < 10 ? "0" : "")\(rest) min"
    }

    /// "ahead of" / "behind" wording for `offset` = local − server.
    static func sentence(offset: TimeInterval, server: Date, local: Date) -> String {
        "the local clock is \(describe(offset)) \(offset >= 0 ? "ahead of" : "behind") Object Storage "
            + "(server time \(format(server)), local time \(format(local)))"
    }
}
