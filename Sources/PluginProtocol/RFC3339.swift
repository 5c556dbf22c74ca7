/// RFC 3339 timestamps as Plakar's Go side writes and reads them
/// (`time.RFC3339Nano`): `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`.
enum RFC3339 {
    /// Whether `text` has the RFC 3339 date-time shape with in-range fields.
    static func isValid(_ text: String) -> Bool {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 0x30 && b[i] <= 0x39 else { return nil }
                v = v * 10 + Int(b[i] - 0x30)
            }
            return v
        }
        guard b.count >= 20,
              digits(0, 4) != nil, b[4] == UInt8(ascii: "-"),
              let month = digits(5, 2), (1...12).contains(month), b[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), (1...31).contains(day),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t"),
              let hour = digits(11, 2), hour < 24, b[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), minute < 60, b[16] == UInt8(ascii: ":"),
              let second = digits(17, 2), second <= 60 else { return false }
        var i = 19
        if i < b.count && b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            while i < b.count && b[i] >= 0x30 && b[i] <= 0x39 { i += 1 }
            guard i > start else { return false }
        }
        guard i < b.count else { return false }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") { return i + 1 == b.count }
        guard b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-"), i + 6 == b.count,
              let oh = digits(i + 1, 2), oh < 24, b[i + 3] == UInt8(ascii: ":"),
              let om = digits(i + 4, 2), om < 60 else { return false }
        return true
    }
}
