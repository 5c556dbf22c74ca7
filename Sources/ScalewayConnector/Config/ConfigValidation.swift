/// Small syntactic checks shared by the configuration and the tree parsers.
enum ConfigValidation {
    /// True for the 8-4-4-4-12 hexadecimal UUID form Scaleway uses.
    static func isUUID(_ text: String) -> Bool {
        let groups = text.split(separator: "-", omittingEmptySubsequences: false)
        guard groups.count == 5, groups.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return groups.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    /// S3 bucket naming rules as Scaleway applies them: 3..63 characters,
    /// lowercase letters, digits, dots and hyphens, starting and ending
    /// with a letter or digit, no `..`.
    static func isBucketName(_ text: String) -> Bool {
        guard (3...63).contains(text.count), !text.contains("..") else { return false }
        let allowed = text.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-"
        }
        guard allowed, let first = text.unicodeScalars.first, let last = text.unicodeScalars.last else { return false }
        func alnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
        return alnum(first) && alnum(last)
    }

    /// A free-form label (environment, data class, names): printable, no control characters.
    static func isLabel(_ text: String, maxLength: Int) -> Bool {
        !text.isEmpty && text.count <= maxLength
            && text.unicodeScalars.allSatisfy { !($0.properties.generalCategory == .control) }
    }

    /// An `http://` or `https://` URL with a host.
    static func isHTTPURL(_ text: String) -> Bool {
        for scheme in ["https://", "http://"] where text.hasPrefix(scheme) {
            let rest = text.dropFirst(scheme.count)
            return !rest.isEmpty && !rest.hasPrefix("/") && !rest.contains(" ")
        }
        return false
    }

    /// A Go-style duration (`90s`, `15m`, `12h`, `1h30m`, `2h0m5s`, plus days
    /// as `7d`: units d, h, m, s, each at most once and in that order) or a
    /// bare number of seconds; whole seconds only. One parser for every
    /// duration key (`reclaim_after` and the timeouts).
    static func duration(_ text: String) -> Duration? {
        // Digits only: Int64("+60") would also accept a sign.
        if !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
            return Int64(text).map { .seconds($0) }
        }
        var total: Int64 = 0
        var number: Int64? = nil
        var lastUnit = 0  // 1 = d, 2 = h, 3 = m, 4 = s: enforces the order and uniqueness
        for scalar in text.unicodeScalars {
            if let digit = Int64(String(scalar)), ("0"..."9").contains(scalar) {
                let (shifted, overflow1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (next, overflow2) = shifted.addingReportingOverflow(digit)
                guard !overflow1, !overflow2, next <= 10_000_000 else { return nil }
                number = next
                continue
            }
            let (unit, rank): (Int64, Int)
            switch scalar {
            case "d": (unit, rank) = (86400, 1)
            case "h": (unit, rank) = (3600, 2)
            case "m": (unit, rank) = (60, 3)
            case "s": (unit, rank) = (1, 4)
            default: return nil
            }
            guard let value = number, rank > lastUnit else { return nil }
            total += value * unit
            number = nil
            lastUnit = rank
        }
        guard number == nil, lastUnit > 0 else { return nil }
        return .seconds(total)
    }

    /// The Go-style spelling of a whole-second duration: `1h30m`, `45s`, `12h`.
    static func formatDuration(_ duration: Duration) -> String {
        let total = duration.components.seconds
        guard total > 0 else { return "0s" }
        let h = total / 3600, m = total % 3600 / 60, s = total % 60
        return (h > 0 ? "\(h)h" : "") + (m > 0 ? "\(m)m" : "") + (s > 0 ? "\(s)s" : "")
    }
}
