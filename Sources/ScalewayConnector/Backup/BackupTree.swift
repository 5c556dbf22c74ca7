import PluginProtocol

/// The virtual tree a backup presents:
///
/// ```
/// /instance.json                          the instance and its volume map
/// /volumes/<index>-<volume-id>.json       each volume's own description
/// /volumes/<index>-<volume-id>.qcow2      each volume's image (mode 0600)
/// ```
///
/// Images are listed before their export ends (size -1, Plakar fixes it
/// after reading); their mod_time is the snapshot's creation time so
/// Plakar's unchanged-file cache never reuses an older image.
struct BackupTree: Sendable {
    enum Content: Sendable {
        case bytes([UInt8])
        case image(PlannedVolume)
    }

    let manifest: InstanceManifest
    let records: [ListRecord]
    let contents: [String: Content]

    init(manifest: InstanceManifest, volumes: [PlannedVolume], listedAt: String) {
        self.manifest = manifest
        var records: [ListRecord] = []
        var contents: [String: Content] = [:]
        func directory(_ path: String, _ name: String) {
            records.append(ListRecord(pathname: path, fileInfo: FileInfo(
                name: name, size: 0, mode: FileInfo.Mode.directory | 0o755, modTime: listedAt, nlink: 2)))
        }
        func file(_ path: String, _ name: String, _ bytes: [UInt8]) {
            records.append(ListRecord(pathname: path, fileInfo: FileInfo(
                name: name, size: Int64(bytes.count), mode: 0o644, modTime: listedAt)))
            contents[path] = .bytes(bytes)
        }
        directory("/", "/")
        file("/instance.json", "instance.json", manifest.encoded())
        directory("/volumes", "volumes")
        for volume in volumes {
            guard let record = manifest.volumes.first(where: { $0.index == volume.index }) else { continue }
            file(volume.sidecarPath, volume.sidecarName, VolumeSidecar(manifest: manifest, volume: record).encoded())
            let modTime = record.snapshot.flatMap { Timestamp.normalise($0.createdAt) } ?? listedAt
            records.append(ListRecord(pathname: volume.imagePath, fileInfo: FileInfo(
                name: volume.imageName, size: -1, mode: FileInfo.Mode.regularFile | 0o600, modTime: modTime)))
            contents[volume.imagePath] = .image(volume)
        }
        self.records = records
        self.contents = contents
    }
}
