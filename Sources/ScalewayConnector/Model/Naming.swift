import Crypto
import Foundation

/// Names, tags and object keys of everything the connector creates.
///
/// Every temporary resource is findable by a later run:
/// - snapshots are named `plakar-scaleway-<run-id>-<index>` and tagged
///   ``tag``, `plakar-scaleway-run=<run-id>` and `plakar-scaleway-server=<server-id>`;
/// - staging objects live under `<prefix><server-id>/<run-id>/` (backup) or
///   `<prefix>restore/<run-id>/` (restore).
/// A run id starts with its UTC start time, so leftovers can be aged.
public enum Naming {
    /// Tag put on every temporary snapshot.
    public static let tag = "plakar-scaleway"
    /// Prefix of every temporary snapshot name.
    public static let namePrefix = "plakar-scaleway-"

    /// A fresh run id: `20261204T155300Z-1a2b3c` (UTC time, 24 random bits).
    public static func makeRunID(now: Date = Date()) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return "\(f.string(from: now))-\(Hex.encode(SecureRandom.bytes(3)))"
    }

    /// The tree file name of a volume's image: `<index>-<volume-id>.qcow2`.
    public static func imageName(index: Int, volumeID: String) -> String { "\(index)-\(volumeID).qcow2" }
    /// The tree file name of a volume's sidecar: `<index>-<volume-id>.json`.
    public static func sidecarName(index: Int, volumeID: String) -> String { "\(index)-\(volumeID).json" }

    /// Backup staging folder: `<prefix><server-id>/<run-id>/`.
    public static func backupStagingPrefix(prefix: String, serverID: String, runID: String) -> String {
        "\(prefix)\(serverID)/\(runID)/"
    }

    /// Backup staging key of one volume's export.
    public static func backupStagingKey(prefix: String, serverID: String, runID: String, index: Int, volumeID: String) -> String {
        backupStagingPrefix(prefix: prefix, serverID: serverID, runID: runID) + imageName(index: index, volumeID: volumeID)
    }

    /// Restore staging folder: `<prefix>restore/<run-id>/`.
    public static func restoreStagingPrefix(prefix: String, runID: String) -> String { "\(prefix)restore/\(runID)/" }

    /// Name of a temporary backup snapshot.
    public static func snapshotName(runID: String, index: Int) -> String { "\(namePrefix)\(runID)-\(index)" }

    /// Name of a snapshot imported by a restore.
    public static func importName(runID: String, index: Int) -> String { "\(namePrefix)restore-\(runID)-\(index)" }

    /// Tags of a temporary snapshot (plus the user's labels, when set).
    public static func snapshotTags(runID: String, serverID: String?, labels: Labels? = nil) -> [String] {
        var tags = [tag, "plakar-scaleway-run=\(runID)"]
        if let serverID { tags.append("plakar-scaleway-server=\(serverID)") }
        if let environment = labels?.environment { tags.append("environment=\(environment)") }
        if let dataClass = labels?.dataClass { tags.append("data_class=\(dataClass)") }
        return tags
    }
}
