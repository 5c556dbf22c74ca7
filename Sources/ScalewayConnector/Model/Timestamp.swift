import Foundation

/// RFC 3339 times as Plakar's FileInfo wants them (UTC, nanoseconds).
public enum Timestamp {
    /// Now, e.g. `2026-12-04T10:00:00.123456789Z`.
    public static func now() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return format(seconds: Int64(ts.tv_sec), nanoseconds: Int(ts.tv_nsec))
    }

    /// Normalises an API time (`2026-08-17T09:36:33.387491+00:00` or
    /// `2026-08-17T09:32:40.934253Z`) to UTC with 9 fraction digits.
    public static func normalise(_ text: String) -> String? {
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? { digits(chars, from, count) }
        guard chars.count >= 19, let year = number(0, 4), let month = number(5, 2), let day = number(8, 2),
              let hour = number(11, 2), let minute = number(14, 2), let second = number(17, 2),
              chars[4] == 45, chars[7] == 45, chars[10] == 84 || chars[10] == 116 || chars[10] == 32,
              chars[13] == 58, chars[16] == 58
        else { return nil }
        var i = 19
        var nanos = 0
        if i < chars.count, chars[i] == 46 {
            i += 1
            var digits = 0
            while i < chars.count, chars[i] >= 48, chars[i] <= 57 {
                if digits < 9 { nanos = nanos * 10 + Int(chars[i] - 48); digits += 1 }
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<9 { nanos *= 10 }
        }
        var offset = 0
        if i < chars.count {
            if chars[i] == 90 || chars[i] == 122 {
                i += 1
            } else if chars[i] == 43 || chars[i] == 45, let oh = number(i + 1, 2), let om = number(i + 4, 2) {
                offset = (oh * 60 + om) * 60 * (chars[i] == 43 ? 1 : -1)
                i += 6
            } else {
                return nil
            }
        }
        guard i == chars.count else { return nil }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let epoch = Int64(timegm(&parts)) - Int64(offset)
        return format(seconds: epoch, nanoseconds: nanos)
    }

    /// The SigV4 basic form of a time, `20261204T155300Z` (UTC, whole seconds).
    ///
    /// Made with `gmtime_r` rather than a `DateFormatter`: the formatter
    /// loads ICU's calendar data, about 4 MiB resident for a run id.
    static func basic(_ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        return "\(pad(Int(parts.tm_year) + 1900, 4))\(pad(Int(parts.tm_mon) + 1, 2))\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2))\(pad(Int(parts.tm_min), 2))\(pad(Int(parts.tm_sec), 2))Z"
    }

    /// Parses the basic form `20261204T155300Z`; nil for anything else
    /// (other lengths, non-digits, out-of-range fields).
    static func parseBasic(_ text: Substring) -> Date? {
        let u = Array(text.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int32? { digits(u, from, count).map(Int32.init) }
        guard let year = number(0, 4), let month = number(4, 2), let day = number(6, 2),
              let hour = number(9, 2), let minute = number(11, 2), let second = number(13, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        let epoch = timegm(&parts)
        // timegm normalises (Feb 30 -> Mar 2): refuse a day the month does not have.
        var back = tm()
        var t = epoch
        gmtime_r(&t, &back)
        guard back.tm_mday == day, back.tm_mon == month - 1 else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(epoch))
    }

    static func format(seconds: Int64, nanoseconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(nanoseconds, 9))Z"
    }

    /// The decimal number in `chars[from ..< from + count]`; nil past the end or on a non-digit.
    private static func digits(_ chars: [UInt8], _ from: Int, _ count: Int) -> Int? {
        guard from + count <= chars.count else { return nil }
        var value = 0
        for c in chars[from..<(from + count)] {
            guard c >= 48 && c <= 57 else { return nil }
            value = value * 10 + Int(c - 48)
        }
        return value
    }

    /// `v` in decimal, zero-padded to `width` digits.
    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, width - s.count)) + s
    }
}
