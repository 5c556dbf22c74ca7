/// What a path given to the exporter is, in the backup layout.
///
/// Plakar passes paths relative to the restored subtree, so the same image
/// may arrive as `/volumes/0-<id>.qcow2` (whole snapshot restored) or
/// `/0-<id>.qcow2` (only `/volumes` or only the file restored). Accepted:
/// `instance.json` at the top, and `<index>-<volume-id>.qcow2|.json` at the
/// top or in `volumes/`. Anything else is `.unknown` with the reason.
public enum RestorePath: Equatable, Sendable {
    case directory
    case manifest
    case sidecar(index: Int, volumeID: String)
    case image(index: Int, volumeID: String)
    case unknown(reason: String)

    /// Classifies `path`; `isDirectory` comes from the record's mode bits.
    public static func classify(_ path: String, isDirectory: Bool) -> RestorePath {
        let components = path.split(separator: "/", omittingEmptySubsequences: false)
        var parts = components.map(String.init)
        if parts.first == "" { parts.removeFirst() }
        if parts.last == "" { parts.removeLast() }
        if parts.contains("..") || parts.contains(".") {
            return .unknown(reason: "the path contains a . or .. component")
        }
        if parts.contains("") { return .unknown(reason: "the path contains an empty component") }
        if path.contains("\0") || path.contains("\\") { return .unknown(reason: "the path contains a NUL or backslash") }
        if isDirectory {
            if parts.isEmpty || parts == ["volumes"] { return .directory }
            return .unknown(reason: "directory outside the backup layout (expected / or /volumes)")
        }
        guard let name = parts.last else { return .unknown(reason: "empty path") }
        let folder = parts.dropLast()
        if name == "instance.json" {
            return folder.isEmpty ? .manifest : .unknown(reason: "instance.json must be at the top of the restored tree")
        }
        guard folder.isEmpty || Array(folder) == ["volumes"] else {
            return .unknown(reason: "not part of a scaleway-instance backup (expected /instance.json or /volumes/<index>-<volume-id>.qcow2|.json)")
        }
        for (suffix, isImage) in [(".qcow2", true), (".json", false)] where name.hasSuffix(suffix) {
            let stem = name.dropLast(suffix.count)
            guard let dash = stem.firstIndex(of: "-"), let index = Int(stem[..<dash]), index >= 0, index < 64,
                  String(index) == stem[..<dash]
            else { break }
            let volumeID = String(stem[stem.index(after: dash)...])
            guard ConfigValidation.isUUID(volumeID) else { break }
            return isImage ? .image(index: index, volumeID: volumeID.lowercased())
                           : .sidecar(index: index, volumeID: volumeID.lowercased())
        }
        return .unknown(reason: "file name \"\(name)\" is not <index>-<volume-id>.qcow2 or .json")
    }
}
