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

    /// A duration: whole seconds (`300`), or a number with one unit
    /// `s`, `m`, `h` or `d` (`90s`, `5m`, `1h`).
    static func duration(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        var digits = Substring(text)
        var scale: Int64 = 1
        if let last = text.last, let unit = units[last] {
            digits = digits.dropLast()
            scale = unit
        }
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber),
              let value = Int64(digits) else { return nil }
        return .seconds(value * scale)
    }
}
