import Crypto
import Foundation

/// Names, tags and object keys of everything the connector creates.
///
/// Every temporary resource is findable by a later run:
/// - snapshots are named `plakar-scaleway-<run-id>-<index>` and tagged
///   ``tag``, `plakar-scaleway-run=<run-id>` and `plakar-scaleway-server=<server-id>`;
/// - staging objects live under `<prefix><server-id>/<run-id>/` (backup) or
///   `<prefix>restore/<run-id>/` (restore);
/// - volumes a restore creates carry ``restoreTag(runID:)`` from creation on
///   (so a killed restore's half-made volumes are findable);
/// - every running run holds a lease object `<prefix>runs/<run-id>.json`
///   (see ``RunLease``).
/// A run id starts with its UTC start time, so leftovers can be aged.
public enum Naming {
    /// Tag put on every temporary snapshot.
    public static let tag = "plakar-scaleway"
    /// Prefix of every temporary snapshot name.
    public static let namePrefix = "plakar-scaleway-"

    /// A fresh run id: `20261204T155300Z-1a2b3c` (UTC time, 24 random bits).
    public static func makeRunID(now: Date = Date()) -> String {
        "\(Timestamp.basic(now))-\(Hex.encode(SecureRandom.bytes(3)))"
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

    /// Folder of the run leases: `<prefix>runs/`.
    public static func leasePrefix(prefix: String) -> String { "\(prefix)runs/" }

    /// Key of a run's lease: `<prefix>runs/<run-id>.json`.
    public static func leaseKey(prefix: String, runID: String) -> String { "\(leasePrefix(prefix: prefix))\(runID).json" }

    /// The run id of a lease key, or nil when `key` is not a lease of ours.
    public static func runID(ofLeaseKey key: String, prefix: String) -> String? {
        let folder = leasePrefix(prefix: prefix)
        guard key.hasPrefix(folder), key.hasSuffix(".json") else { return nil }
        let id = String(key.dropFirst(folder.count).dropLast(".json".count))
        return isRunID(id) ? id : nil
    }

    /// True for the shape ``makeRunID(now:)`` produces (`20261204T155300Z-1a2b3c`).
    /// Everything derived from a run id (prefixes, tags) is only built from
    /// ids that pass this check, so a hostile lease cannot widen a deletion.
    public static func isRunID(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard u.count == 23, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z"), u[16] == UInt8(ascii: "-") else { return false }
        let digits = u[0..<8] + u[9..<15]
        let isDigit = { (c: UInt8) in c >= 48 && c <= 57 }
        let isHex = { (c: UInt8) in isDigit(c) || (c >= 97 && c <= 102) }
        return digits.allSatisfy(isDigit) && u[17...].allSatisfy(isHex)
    }

    /// Tag carried by every snapshot of run `runID`.
    public static func runTag(runID: String) -> String { "plakar-scaleway-run=\(runID)" }

    /// Tag a restore puts on every volume it creates, at creation, and removes
    /// once its lease says `assembled`; only a run whose lease is dead and not
    /// yet assembled has its tagged volumes reclaimed, never by age.
    public static func restoreTag(runID: String) -> String { "plakar-scaleway-restore=\(runID)" }

    /// Name of a temporary backup snapshot.
    public static func snapshotName(runID: String, index: Int) -> String { "\(namePrefix)\(runID)-\(index)" }

    /// Name of a snapshot imported by a restore.
    public static func importName(runID: String, index: Int) -> String { "\(namePrefix)restore-\(runID)-\(index)" }

    /// Tags of a temporary snapshot (plus the user's labels, when set).
    public static func snapshotTags(runID: String, serverID: String?, labels: Labels? = nil) -> [String] {
        var tags = [tag, runTag(runID: runID)]
        if let serverID { tags.append("plakar-scaleway-server=\(serverID)") }
        if let environment = labels?.environment { tags.append("environment=\(environment)") }
        if let dataClass = labels?.dataClass { tags.append("data_class=\(dataClass)") }
        return tags
    }
}
