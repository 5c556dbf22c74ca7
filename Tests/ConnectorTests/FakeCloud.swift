import PluginProtocol
import Foundation
import QCOW2
import class ScalewayKit.PartBuffer
import Synchronization
@testable import ScalewayConnector

/// An in-memory Scaleway for the connector's flow tests: servers, l_ssd and
/// SBS volumes with content, snapshots that advance one state per GET, a
/// bucket whose exports are real QCOW2 images of the volume content.
/// Every call is logged so tests can assert what was (not) done.
///
/// `@unchecked Sendable`: all state lives behind `state`'s mutex.
final class FakeCloud: CloudSession, ComputeAPI, ObjectStore, @unchecked Sendable {
    struct Snap {
        var snapshot: CloudSnapshot
        var family: VolumeFamily
        var content: [UInt8]
        var pending: [String]  // states still to go through, one per GET
        var exportKey: String?
        var failExport = false
    }
    struct State {
        var servers: [String: CloudServer] = [:]
        var volumes: [String: (volume: CloudVolume, family: VolumeFamily, content: [UInt8])] = [:]
        var snapshots: [String: Snap] = [:]
        var objects: [String: [UInt8]] = [:]
        var uploads: [String: (key: String, parts: [Int: [UInt8]])] = [:]
        var calls: [String] = []
        var denyBlock = false
        /// Volume tag changes fail (a restore must still succeed, keeping the tag).
        var failTagging = false
        var failExportOfVolume: String?
        var cutReadsAfter: Int?
        var cutsLeft = 0
        var counter = 0
    }
    let state = Mutex(State())
    let bucket = "backups"
    let region = "fr-par"
    static let project = "11111111-2222-3333-4444-555555555555"

    var compute: any ComputeAPI { self }
    func objectStore(region: String) -> any ObjectStore { self }

    func newID() -> String {
        state.withLock { s in
            s.counter += 1
            return String(format: "aaaaaaaa-0000-4000-8000-%012d", s.counter)
        }
    }

    private func log(_ call: String) { state.withLock { $0.calls.append(call) } }
    var calls: [String] { state.withLock { $0.calls } }

    /// Seeds web-01: l_ssd root, sbs_5k and sbs_15k data volumes.
    @discardableResult
    func seedWeb01(name: String = "web-01", state serverState: String = "running") -> CloudServer {
        // Mostly holes (as real disks are), with distinct data every 1 MiB.
        // The first 4.5 MiB are dense (images span several read blocks).
        func content(_ seed: UInt8, _ size: Int) -> [UInt8] {
            let pattern = (0..<65_521).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
            var bytes: [UInt8] = []
            bytes.reserveCapacity(size)
            while bytes.count < min(size, 4_700_000) { bytes += pattern; bytes[bytes.count - 1] = UInt8(truncatingIfNeeded: bytes.count >> 16) }
            bytes.removeLast(max(0, bytes.count - size))
            bytes += [UInt8](repeating: 0, count: size - bytes.count)
            for base in stride(from: 4_800_000, to: size, by: 1 << 20) { bytes[base] = seed }
            return bytes
        }
        let root = CloudVolume(id: newID(), name: "root", volumeType: "l_ssd", size: 3 << 20, status: "available")
        let data = CloudVolume(id: newID(), name: "data", volumeType: "sbs_5k", size: 5 << 20, perfIOPS: 5000, status: "in_use")
        let fast = CloudVolume(id: newID(), name: "fast", volumeType: "sbs_15k", size: 1 << 20, perfIOPS: 15000, status: "in_use")
        var server = CloudServer(id: newID(), name: name, project: Self.project, commercialType: "DEV1-S", state: serverState,
                                 zone: "fr-par-1", tags: ["web", "prod"])
        server.volumes = [
            0: ServerVolumeEntry(id: root.id, volumeType: "l_ssd", name: "root", size: root.size, boot: true),
            1: ServerVolumeEntry(id: data.id, volumeType: "sbs_volume"),
            2: ServerVolumeEntry(id: fast.id, volumeType: "sbs_volume"),
        ]
        state.withLock { s in
            s.volumes[root.id] = (root, .lSSD, content(1, Int(root.size)))
            s.volumes[data.id] = (data, .sbs, content(2, Int(data.size)))
            s.volumes[fast.id] = (fast, .sbs, content(3, Int(fast.size)))
            s.servers[server.id] = server
            Self.bindBlockVolumes(&s, server: server.id, from: [:], to: server.volumes)
        }
        return server
    }

    static func qcow2(_ bytes: [UInt8]) -> [UInt8] {
        let writer = QCOW2Writer(source: MemorySource(bytes: bytes))
        var out: [UInt8] = []
        let plan = try! writer.plan()
        try! writer.write(plan) { out.append(contentsOf: $0) }
        return out
    }

    func content(ofVolume id: String) -> [UInt8]? { state.withLock { $0.volumes[id]?.content } }

    // MARK: ComputeAPI

    func getServer(zone: Zone, id: String) async throws -> CloudServer {
        log("GET server \(id)")
        guard zone.name == "fr-par-1", let s = state.withLock({ $0.servers[id] }) else {
            throw CloudError(.notFound, status: 404, message: "resource is not found", resource: "instance_server")
        }
        return s
    }

    func listServers(zone: Zone, name: String) async throws -> [CloudServer] {
        log("LIST servers \(zone) \(name)")
        guard zone.name == "fr-par-1" else { return [] }
        return state.withLock { $0.servers.values.filter { $0.name.contains(name) }.sorted { $0.id < $1.id } }
    }

    func serverAction(zone: Zone, id: String, action: String) async throws {
        log("ACTION \(action) \(id)")
        state.withLock { s in
            s.servers[id]?.state = action == "poweron" ? "running" : "stopped"
        }
    }

    func createServer(zone: Zone, _ request: CreateServerRequest) async throws -> CloudServer {
        log("CREATE server \(request.name)")
        var server = CloudServer(id: newID(), name: request.name, project: request.project, commercialType: request.commercialType,
                                 state: "stopped", zone: zone.name, tags: request.tags)
        server.volumes = entries(request.volumes)
        state.withLock { s in
            s.servers[server.id] = server
            Self.bindBlockVolumes(&s, server: server.id, from: [:], to: server.volumes)
        }
        return server
    }

    private func entries(_ templates: [Int: ServerVolumeTemplate]) -> [Int: ServerVolumeEntry] {
        templates.mapValues { t in
            switch t {
            case .localVolume(let id, let name): ServerVolumeEntry(id: id, volumeType: "l_ssd", name: name)
            case .blockVolume(let id): ServerVolumeEntry(id: id, volumeType: "sbs_volume")
            }
        }
    }

    func setServerVolumes(zone: Zone, id: String, volumes: [Int: ServerVolumeTemplate]) async throws -> CloudServer {
        log("PATCH server \(id) volumes \(volumes.count)")
        return try state.withLock { s in
            guard var server = s.servers[id] else { throw CloudError(.notFound, status: 404, message: "not found") }
            let before = server.volumes
            server.volumes = entries(volumes)
            s.servers[id] = server
            Self.bindBlockVolumes(&s, server: id, from: before, to: server.volumes)
            return server
        }
    }

    func deleteServer(zone: Zone, id: String) async throws {
        log("DELETE server \(id)")
        state.withLock { s in
            if let server = s.servers.removeValue(forKey: id) {
                Self.bindBlockVolumes(&s, server: id, from: server.volumes, to: [:])
            }
        }
    }

    /// SBS volumes leaving a server's map are `available` and unbound, those
    /// joining it `in_use` and bound to it (at once: the fake has no timed attachments).
    private static func bindBlockVolumes(_ s: inout State, server: String, from before: [Int: ServerVolumeEntry],
                                         to after: [Int: ServerVolumeEntry]) {
        let old = Set(before.values.filter { $0.volumeType == "sbs_volume" }.map(\.id))
        let new = Set(after.values.filter { $0.volumeType == "sbs_volume" }.map(\.id))
        for id in old.subtracting(new) where s.volumes[id]?.volume.serverID == server {
            s.volumes[id]?.volume.serverID = nil
            s.volumes[id]?.volume.status = "available"
        }
        for id in new.subtracting(old) {
            s.volumes[id]?.volume.serverID = server
            s.volumes[id]?.volume.status = "in_use"
        }
    }

    func getInstanceVolume(zone: Zone, id: String) async throws -> CloudVolume { try volume(id, .lSSD) }
    func getBlockVolume(zone: Zone, id: String) async throws -> CloudVolume {
        try checkBlock()
        return try volume(id, .sbs)
    }

    private func checkBlock() throws {
        if state.withLock({ $0.denyBlock }) {
            throw CloudError(.permission, status: 403, message: "insufficient permissions")
        }
    }

    private func volume(_ id: String, _ family: VolumeFamily) throws -> CloudVolume {
        guard let v = state.withLock({ $0.volumes[id] }), v.family == family else {
            throw CloudError(.notFound, status: 404, message: "resource is not found", resource: family == .sbs ? "volume" : "instance_volume")
        }
        return v.volume
    }

    private func createVolume(name: String, family: VolumeFamily, snapshotID: String, perfIOPS: Int?, tags: [String]) throws -> CloudVolume {
        guard let snap = state.withLock({ $0.snapshots[snapshotID] }), snap.snapshot.isAvailable else {
            throw CloudError(.notFound, status: 404, message: "snapshot not found")
        }
        let type = family == .lSSD ? "l_ssd" : (perfIOPS == 15000 ? "sbs_15k" : "sbs_5k")
        let volume = CloudVolume(id: newID(), name: name, volumeType: type, size: snap.snapshot.size, perfIOPS: perfIOPS,
                                 status: "available", tags: tags)
        state.withLock { $0.volumes[volume.id] = (volume, family, snap.content) }
        return volume
    }

    func createInstanceVolume(zone: Zone, name: String, project: String, baseSnapshot: String, tags: [String]) async throws -> CloudVolume {
        log("CREATE l_ssd volume \(name)")
        return try createVolume(name: name, family: .lSSD, snapshotID: baseSnapshot, perfIOPS: nil, tags: tags)
    }

    func createBlockVolume(zone: Zone, name: String, project: String, snapshotID: String, perfIOPS: Int, tags: [String]) async throws -> CloudVolume {
        log("CREATE sbs volume \(name) \(perfIOPS)")
        return try createVolume(name: name, family: .sbs, snapshotID: snapshotID, perfIOPS: perfIOPS, tags: tags)
    }

    func deleteInstanceVolume(zone: Zone, id: String) async throws {
        log("DELETE volume \(id)")
        state.withLock { _ = $0.volumes.removeValue(forKey: id) }
    }
    func deleteBlockVolume(zone: Zone, id: String) async throws {
        log("DELETE volume \(id)")
        state.withLock { _ = $0.volumes.removeValue(forKey: id) }
    }

    func setInstanceVolumeTags(zone: Zone, id: String, tags: [String]) async throws { try setTags(id, .lSSD, tags) }
    func setBlockVolumeTags(zone: Zone, id: String, tags: [String]) async throws {
        try checkBlock()
        try setTags(id, .sbs, tags)
    }

    /// Logged as `TAG volume <id> leases=<phase of every stored lease> from=<old tags>`,
    /// so tests can tell what the run's lease said when the tags changed.
    private func setTags(_ id: String, _ family: VolumeFamily, _ tags: [String]) throws {
        try state.withLock { s in
            let phases = s.objects.filter { $0.key.contains("/runs/") }.values.map { bytes in
                ((try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any])?["phase"] as? String ?? "?"
            }
            let old = s.volumes[id]?.volume.tags ?? []
            s.calls.append("TAG volume \(id) leases=\(phases.sorted().joined(separator: ",")) from=\(old.joined(separator: ","))")
            if s.failTagging { throw CloudError(.server, status: 500, message: "internal error") }
            guard s.volumes[id]?.family == family else { throw CloudError(.notFound, status: 404, message: "resource is not found") }
            s.volumes[id]?.volume.tags = tags
        }
    }

    func listInstanceVolumes(zone: Zone, project: String?, tags: [String]) async throws -> [CloudVolume] {
        state.withLock { s in s.volumes.values.filter { $0.family == .lSSD && tags.allSatisfy($0.volume.tags.contains) }.map(\.volume) }
    }
    func listBlockVolumes(zone: Zone, project: String?, tags: [String]) async throws -> [CloudVolume] {
        try checkBlock()
        return state.withLock { s in s.volumes.values.filter { $0.family == .sbs && tags.allSatisfy($0.volume.tags.contains) }.map(\.volume) }
    }

    private func snapshot(of volumeID: String, name: String, tags: [String], family: VolumeFamily) throws -> CloudSnapshot {
        guard let v = state.withLock({ $0.volumes[volumeID] }) else { throw CloudError(.notFound, status: 404, message: "no volume") }
        let s = CloudSnapshot(id: newID(), name: name, size: v.volume.size, status: family == .sbs ? "creating" : "snapshotting",
                              createdAt: "2026-12-04T10:00:00.123456+00:00", tags: tags)
        state.withLock { $0.snapshots[s.id] = Snap(snapshot: s, family: family, content: v.content, pending: ["available"]) }
        return s
    }

    func createInstanceSnapshot(zone: Zone, name: String, volumeID: String, project: String, tags: [String]) async throws -> CloudSnapshot {
        log("CREATE instance snapshot \(volumeID)")
        return try snapshot(of: volumeID, name: name, tags: tags, family: .lSSD)
    }
    func createBlockSnapshot(zone: Zone, name: String, volumeID: String, project: String, tags: [String]) async throws -> CloudSnapshot {
        try checkBlock()
        log("CREATE block snapshot \(volumeID)")
        return try snapshot(of: volumeID, name: name, tags: tags, family: .sbs)
    }

    private func importSnapshot(name: String, key: String, tags: [String], family: VolumeFamily) throws -> CloudSnapshot {
        guard let bytes = state.withLock({ $0.objects[key] }) else { throw CloudError(.notFound, status: 404, message: "no object") }
        let s = CloudSnapshot(id: newID(), name: name, size: Int64(bytes.count), status: family == .sbs ? "creating" : "importing",
                              createdAt: "2026-12-04T11:00:00Z", tags: tags)
        let valid = bytes.starts(with: [0x51, 0x46, 0x49, 0xfb])
        state.withLock { $0.snapshots[s.id] = Snap(snapshot: s, family: family, content: bytes, pending: [valid ? "available" : "error"]) }
        return s
    }

    func importInstanceSnapshot(zone: Zone, name: String, project: String, bucket: String, key: String, tags: [String]) async throws -> CloudSnapshot {
        log("IMPORT instance snapshot \(key)")
        return try importSnapshot(name: name, key: key, tags: tags, family: .lSSD)
    }
    func importBlockSnapshot(zone: Zone, name: String, project: String, bucket: String, key: String, tags: [String]) async throws -> CloudSnapshot {
        log("IMPORT block snapshot \(key)")
        return try importSnapshot(name: name, key: key, tags: tags, family: .sbs)
    }

    private func getSnapshot(_ id: String) throws -> CloudSnapshot {
        try state.withLock { s in
            guard var snap = s.snapshots[id] else { throw CloudError(.notFound, status: 404, message: "resource is not found") }
            if !snap.pending.isEmpty {
                snap.snapshot.status = snap.pending.removeFirst()
                if snap.snapshot.status == "available", let key = snap.exportKey {
                    // The export finishes: the real image replaces the placeholder.
                    s.objects[key] = FakeCloud.qcow2(snap.content)
                }
                s.snapshots[id] = snap
            }
            return snap.snapshot
        }
    }

    func getInstanceSnapshot(zone: Zone, id: String) async throws -> CloudSnapshot { try getSnapshot(id) }
    func getBlockSnapshot(zone: Zone, id: String) async throws -> CloudSnapshot { try getSnapshot(id) }

    private func export(_ id: String, key: String) throws {
        try state.withLock { s in
            guard var snap = s.snapshots[id], snap.snapshot.isAvailable else {
                throw CloudError(.conflict, status: 409, message: "transient_state")
            }
            snap.snapshot.status = "exporting"
            let fails = s.volumes.first(where: { $0.value.content == snap.content })?.key == s.failExportOfVolume
            snap.pending = [fails ? "error" : "available"]
            snap.exportKey = fails ? nil : key
            s.snapshots[id] = snap
            s.objects[key] = []  // the 0-byte placeholder
        }
    }

    func exportInstanceSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws {
        log("EXPORT \(id) \(key)")
        try export(id, key: key)
    }
    func exportBlockSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws {
        log("EXPORT \(id) \(key)")
        try export(id, key: key)
    }

    func deleteInstanceSnapshot(zone: Zone, id: String) async throws {
        log("DELETE snapshot \(id)")
        state.withLock { _ = $0.snapshots.removeValue(forKey: id) }
    }
    func deleteBlockSnapshot(zone: Zone, id: String) async throws {
        log("DELETE snapshot \(id)")
        state.withLock { _ = $0.snapshots.removeValue(forKey: id) }
    }

    func listInstanceSnapshots(zone: Zone, project: String?) async throws -> [CloudSnapshot] {
        state.withLock { $0.snapshots.values.filter { $0.family == .lSSD }.map(\.snapshot) }
    }
    func listBlockSnapshots(zone: Zone, project: String?) async throws -> [CloudSnapshot] {
        try checkBlock()
        return state.withLock { $0.snapshots.values.filter { $0.family == .sbs }.map(\.snapshot) }
    }

    /// Plants what a killed run `runID` would have left: a snapshot and a staging object.
    func plantLeftover(serverID: String, runID: String, family: VolumeFamily) -> (snapshot: String, key: String) {
        let id = newID()
        let snapshot = CloudSnapshot(id: id, name: "plakar-scaleway-\(runID)-0", size: 1, status: "available",
                                     createdAt: "2026-12-01T00:00:00Z", tags: Naming.snapshotTags(runID: runID, serverID: serverID))
        let key = "plakar-scaleway/\(serverID)/\(runID)/0-x.qcow2"
        state.withLock {
            $0.snapshots[id] = Snap(snapshot: snapshot, family: family, content: [], pending: [])
            $0.objects[key] = [1, 2, 3]
        }
        return (id, key)
    }

    var snapshotIDs: [String] { state.withLock { Array($0.snapshots.keys) } }
    var objectKeys: [String] { state.withLock { Array($0.objects.keys) } }
    func object(_ key: String) -> [UInt8]? { state.withLock { $0.objects[key] } }

    // MARK: ObjectStore

    func bucketRegion(_ bucket: String) async throws -> String {
        guard bucket == self.bucket else { throw CloudError(.notFound, status: 404, message: "NoSuchBucket") }
        return region
    }

    func headObject(bucket: String, key: String) async throws -> ObjectFacts? {
        state.withLock { s in s.objects[key].map { ObjectFacts(key: key, size: Int64($0.count)) } }
    }

    func getObject(bucket: String, key: String, offset: Int64, length: Int64,
                   sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) async throws {
        log("GET object \(key) \(offset)+\(length)")
        guard let bytes = state.withLock({ $0.objects[key] }) else { throw CloudError(.notFound, status: 404, message: "NoSuchKey") }
        var slice = Array(bytes[Int(offset)..<Int(min(Int64(bytes.count), offset + length))])
        let cut: Bool = state.withLock { s in
            if let after = s.cutReadsAfter, s.cutsLeft > 0, slice.count > after { s.cutsLeft -= 1; return true }
            return false
        }
        if cut {
            slice = Array(slice.prefix(state.withLock { $0.cutReadsAfter! }))
            slice.withUnsafeBytes { sink($0) }
            throw CloudError(.transport, message: "connection reset by peer")
        }
        slice.withUnsafeBytes { sink($0) }
    }

    func listObjects(bucket: String, prefix: String) async throws -> [ObjectFacts] {
        state.withLock { s in s.objects.filter { $0.key.hasPrefix(prefix) }.map { ObjectFacts(key: $0.key, size: Int64($0.value.count)) } }
    }

    func deleteObject(bucket: String, key: String) async throws {
        log("DELETE object \(key)")
        state.withLock { _ = $0.objects.removeValue(forKey: key) }
    }

    func createMultipartUpload(bucket: String, key: String, contentType: String) async throws -> String {
        log("MPU create \(key)")
        let id = newID()
        state.withLock { $0.uploads[id] = (key, [:]) }
        return id
    }

    func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, part: PartBuffer) async throws -> String {
        let bytes = Array(part.bytes)
        state.withLock { $0.uploads[uploadID]?.parts[partNumber] = bytes }
        return "etag-\(partNumber)"
    }

    func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [(number: Int, etag: String)]) async throws {
        log("MPU complete \(key) \(parts.count)")
        try state.withLock { s in
            guard let upload = s.uploads.removeValue(forKey: uploadID) else { throw CloudError(.notFound, status: 404, message: "NoSuchUpload") }
            s.objects[key] = parts.flatMap { upload.parts[$0.number]! }
        }
    }

    func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        log("MPU abort \(key)")
        state.withLock { _ = $0.uploads.removeValue(forKey: uploadID) }
    }

    func putObject(bucket: String, key: String, bytes: [UInt8], contentType: String) async throws {
        log("PUT object \(key)")
        state.withLock { $0.objects[key] = bytes }
    }

    func listMultipartUploads(bucket: String, prefix: String) async throws -> [(key: String, uploadID: String)] {
        state.withLock { s in s.uploads.filter { $0.value.key.hasPrefix(prefix) }.map { (key: $0.value.key, uploadID: $0.key) } }
    }

    var openUploads: Int { state.withLock { $0.uploads.count } }
}

/// Collects notifications.
final class RecordingNotifier: Notifier, @unchecked Sendable {
    // `@unchecked Sendable`: the arrays are only touched under `lock`.
    private let lock = Mutex<([PluginProtocol.Progress], [String])>(([], []))
    func progress(_ progress: PluginProtocol.Progress) { lock.withLock { $0.0.append(progress) } }
    func log(level: String, message: String) { lock.withLock { $0.1.append("\(level): \(message)") } }
    var progresses: [PluginProtocol.Progress] { lock.withLock { $0.0 } }
    var logs: [String] { lock.withLock { $0.1 } }
}
