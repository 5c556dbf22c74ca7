/// Makes protocol frames safe to log.
///
/// Trace logging prints frames, and an `open` frame carries credentials in
/// its params. The engine knows nothing about the connector's config keys,
/// so redaction is by member name: any string member whose key contains
/// one of ``sensitiveKeyFragments`` (case-insensitive) is replaced by
/// `"[REDACTED]"`, at any depth. A frame that cannot be parsed, or that is
/// too large to parse cheaply, is summarised by its size only: its text is
/// never printed, since a secret could sit anywhere in it.
public enum FrameRedactor {
    /// Key fragments that mark a member as secret.
    public static let sensitiveKeyFragments = ["secret", "password", "token", "authorization", "credential", "private"]

    /// Frames above this size (data frames) are summarised, not parsed.
    public static let maximumParsedFrame = 256 * 1024

    /// The frame as text safe for a log line, cut to `limit` characters.
    public static func loggable(_ line: [UInt8], limit: Int = 512) -> String {
        var body = line[...]
        while let last = body.last, last == 0x0A || last == 0x0D { body = body.dropLast() }
        guard body.count <= maximumParsedFrame,
              let parsed = try? JSONParser.parse(Array(body)).value else {
            return "<\(body.count)-byte frame, content not logged>"
        }
        let text = JSONWriter.string(redact(parsed))
        guard text.utf8.count > limit else { return text }
        return String(decoding: text.utf8.prefix(limit), as: UTF8.self) + "… (\(body.count) bytes)"
    }

    /// `value` with every sensitive string member replaced.
    public static func redact(_ value: JSONValue) -> JSONValue {
        switch value {
        case let .object(members):
            return .object(members.map { member in
                if isSensitive(member.key), case .string = member.value {
                    return (key: member.key, value: .string("[REDACTED]"))
                }
                return (key: member.key, value: redact(member.value))
            })
        case let .array(items):
            return .array(items.map(redact))
        default:
            return value
        }
    }

    static func isSensitive(_ key: String) -> Bool {
        let lower = key.lowercased()
        return sensitiveKeyFragments.contains { lower.contains($0) }
    }
}
