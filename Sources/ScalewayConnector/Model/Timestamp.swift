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
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            var value = 0
            for c in chars[from..<(from + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            return value
        }
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

    static func format(seconds: Int64, nanoseconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(nanoseconds, 9))Z"
    }
}
