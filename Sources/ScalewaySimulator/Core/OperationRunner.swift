import Dispatch
import Foundation
import Logging
import Synchronization

/// Drives the account's asynchronous state machines in real time.
///
/// Each snapshot, export, import and block-volume creation does its work
/// (copying sparse content, writing or reading an image) on a dedicated
/// Dispatch work queue, never on Swift's cooperative pool, then reaches its
/// final state at the operation's `readyAt`, however fast the work was, so
/// that clients observe the transient states for the configured duration.
/// Server power transitions are timers only.
///
/// The pending operation is stored with the resource: ``resumeAll()``
/// restarts whatever a previous process left in flight.
final class OperationRunner: Sendable {
    let store: AccountStore
    let objects: any ObjectStorage
    let codec: any DiskImageCodec
    private let work = DispatchQueue(label: "scw-sim.operations", qos: .utility, attributes: .concurrent)
    private let timers = DispatchQueue(label: "scw-sim.timers")
    private let inFlight = DispatchGroup()
    /// Set by ``stop()``; work only starts (entering `inFlight`) while it is false,
    /// so `stop()` waits for running work but never for a pending timer.
    private let stopped = Mutex<Bool>(false)
    private let logger = Logger(label: "scw-sim.operations")

    /// Part sizes of exported images stored as multipart objects. The
    /// Instance service's observed parts are about 128 MiB (a 2.9 GB image in
    /// 22 parts), the Block service's 5 MiB (555 parts).
    static let instancePartSize: Int64 = 128 << 20
    static let blockPartSize: Int64 = 5 << 20

    init(store: AccountStore, objects: any ObjectStorage, codec: any DiskImageCodec) {
        self.store = store
        self.objects = objects
        self.codec = codec
    }

    /// Stops scheduling: waits for running work, and turns later timers into no-ops.
    func stop() {
        stopped.withLock { $0 = true }
        inFlight.wait()
    }

    /// Registers one piece of work unless stopped.
    private func enter() -> Bool {
        stopped.withLock { isStopped in
            if isStopped { return false }
            inFlight.enter()
            return true
        }
    }

    /// Restarts every operation and transition recorded in the state.
    func resumeAll() {
        let (snapshots, volumes, attachments, servers) = store.read { s in
            (s.snapshots.values.filter { $0.pending != nil }.map(\.id),
             s.volumes.values.filter { $0.pending != nil }.map(\.id),
             s.volumes.values.filter { $0.reference?.readyAt != nil }.map(\.id),
             s.servers.values.filter { $0.transition != nil }.map(\.id))
        }
        snapshots.forEach(runSnapshotOperation)
        volumes.forEach(runVolumeOperation)
        attachments.forEach(runAttachment)
        servers.forEach(runServerTransition)
    }

    private func after(_ date: Date, _ body: @escaping @Sendable () -> Void) {
        let delay = max(0, date.timeIntervalSinceNow)
        timers.asyncAfter(deadline: .now() + delay) { [self] in
            guard enter() else { return }
            defer { inFlight.leave() }
            body()
        }
    }

    /// Work runs now; `stop()` waits for it.
    private func background(_ body: @escaping @Sendable () -> Void) {
        guard enter() else { return }
        work.async { [self] in
            defer { inFlight.leave() }
            body()
        }
    }

    /// Applies new durations to the operations in flight: each now ends at
    /// its start plus the new duration. The timers already armed find their
    /// operation changed and do nothing; new ones take over.
    func rebase(to durations: SimDurations) {
        store.mutate { s in
            s.durations = durations
            for (id, var snap) in s.snapshots {
                guard var op = snap.pending else { continue }
                op.readyAt = op.startedAt.addingTimeInterval(durations.seconds(for: op.kind, family: snap.family))
                snap.pending = op
                s.snapshots[id] = snap
            }
            for (id, var volume) in s.volumes {
                guard var op = volume.pending else { continue }
                op.readyAt = op.startedAt.addingTimeInterval(durations.blockVolumeCreate)
                volume.pending = op
                s.volumes[id] = volume
            }
            for (id, var volume) in s.volumes {
                guard var reference = volume.reference, let readyAt = reference.readyAt else { continue }
                let seconds = reference.status == "detaching" ? durations.blockVolumeDetach : durations.blockVolumeAttach
                reference.readyAt = min(readyAt, Date().addingTimeInterval(seconds))
                volume.reference = reference
                s.volumes[id] = volume
            }
            for (id, var server) in s.servers {
                guard var transition = server.transition else { continue }
                let seconds = durations.seconds(forServerAction: transition.action)
                transition.readyAt = min(transition.readyAt, Date().addingTimeInterval(seconds))
                server.transition = transition
                s.servers[id] = server
            }
        }
        resumeAll()
    }

    // MARK: Snapshots

    /// Runs the pending operation of snapshot `id` (snapshot, export or import).
    func runSnapshotOperation(_ id: String) {
        guard let (snapshot, op) = store.read({ s -> (SnapshotRecord, PendingOperation)? in
            guard let snap = s.snapshots[id], let op = snap.pending else { return nil }
            return (snap, op)
        }) else { return }
        background { [self] in
            let outcome: Result<String?, any Error>
            do {
                switch op.kind {
                case .snapshot: outcome = .success(try copySnapshotContent(snapshot, op))
                case .export: outcome = .success(try writeExportImage(snapshot, op))
                case .importImage: outcome = .success(try decodeImportImage(snapshot, op))
                case .createVolume: outcome = .success(nil)
                }
            } catch {
                outcome = .failure(error)
            }
            after(op.readyAt) { [self] in finishSnapshot(id, op, outcome) }
        }
    }

    private func copySnapshotContent(_ snapshot: SnapshotRecord, _ op: PendingOperation) throws -> String? {
        guard let source = op.sourceID else { return nil }
        let tmp = store.temporaryPath(".img")
        try SparseFile.copy(from: store.volumePath(source), to: tmp, size: snapshot.size)
        return tmp
    }

    private func writeExportImage(_ snapshot: SnapshotRecord, _ op: PendingOperation) throws -> String? {
        let tmp = store.temporaryPath(".qcow2")
        try codec.export(raw: store.snapshotPath(snapshot.id), to: tmp)
        if op.fault == .corrupt { try Self.corrupt(path: tmp, at: op.faultOffset) }
        return tmp
    }

    private func decodeImportImage(_ snapshot: SnapshotRecord, _ op: PendingOperation) throws -> String? {
        guard let bucket = op.bucket, let key = op.key, let object = objects.object(bucket: bucket, key: key) else {
            throw ImageRejection(kind: .notQCOW2, message: "the object no longer exists")
        }
        let tmp = store.temporaryPath(".img")
        try codec.decode(image: object.path, toRaw: tmp)
        // The snapshot takes the requested size, or the image's virtual size.
        let imageSize = try SparseFile.size(of: tmp)
        if imageSize < snapshot.size {
            guard truncate(tmp, off_t(snapshot.size)) == 0 else {
                throw SparseFileError(operation: "truncate", path: tmp, errno: errno)
            }
        } else if imageSize > snapshot.size {
            throw ImageRejection(kind: .virtualSize, message: "the image is larger than the requested size")
        }
        return tmp
    }

    /// Flips 16 bytes of the image (the injected `corrupt` fault), in the
    /// middle of the file unless an offset is given.
    static func corrupt(path: String, at offset: Int64?) throws {
        let fd = open(path, O_RDWR)
        guard fd >= 0 else { throw SparseFileError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        let size = try SparseFile.size(of: path)
        let position = max(0, min(offset ?? size / 2, size - 16))
        var bytes = [UInt8](repeating: 0, count: 16)
        let got = pread(fd, &bytes, 16, off_t(position))
        guard got > 0 else { return }
        for i in 0..<got { bytes[i] ^= 0xA5 }
        try SparseFile.writeFully(fd, bytes, got, at: position, path: path)
    }

    private func finishSnapshot(_ id: String, _ op: PendingOperation, _ outcome: Result<String?, any Error>) {
        var product: String?
        var decodingFailed = false
        switch outcome {
        case let .success(path): product = path
        case .failure: decodingFailed = true
        }
        // Whatever was not moved into place is a work file.
        defer { if let product { unlink(product) } }
        let now = Date()
        var failure: String?
        switch outcome {
        case .success:
            if op.fault == .asyncError { failure = "the operation failed (injected fault)" }
        case let .failure(error):
            failure = (error as? ImageRejection)?.message ?? "\(error)"
            logger.warning("snapshot \(id) \(op.kind.rawValue) failed: \(error)")
        }
        // Publish the export before the snapshot turns available again.
        if failure == nil, op.kind == .export, let product, let bucket = op.bucket, let key = op.key {
            do {
                let family = store.read { $0.snapshots[id]?.family } ?? .instance
                let partSize = family == .instance ? Self.instancePartSize : Self.blockPartSize
                let size = try SparseFile.size(of: product)
                let contentType = size > partSize ? "application/x-qemu-disk" : "application/octet-stream"
                try objects.putObject(bucket: bucket, key: key, contentsOf: product, contentType: contentType,
                                      partSize: size > partSize ? partSize : nil)
            } catch {
                failure = "cannot write the exported image: \(error)"
                logger.warning("snapshot \(id) export failed: \(error)")
            }
        }
        store.mutate { s in
            guard var snap = s.snapshots[id], snap.pending == op else { return }
            snap.pending = nil
            snap.modifiedAt = now
            if let failure {
                let invalidImage = decodingFailed && op.kind == .importImage
                snap.state = invalidImage && snap.family == .instance ? "invalid_data" : "error"
                snap.errorDetails = failure
            } else {
                if (op.kind == .snapshot || op.kind == .importImage), let product {
                    if rename(product, store.snapshotPath(id)) != 0 {
                        snap.state = "error"
                        snap.errorDetails = "cannot store the snapshot content"
                        s.snapshots[id] = snap
                        return
                    }
                }
                snap.state = op.finalState
            }
            s.snapshots[id] = snap
            // An instance volume returns to `available` after its snapshot.
            if op.kind == .snapshot, let vid = op.sourceID, var volume = s.volumes[vid], volume.state == "snapshotting" {
                volume.state = "available"
                volume.modifiedAt = now
                s.volumes[vid] = volume
            }
        }
    }

    // MARK: Volumes

    /// Fills a new block volume (empty or from a snapshot), then makes it `available`.
    func runVolumeOperation(_ id: String) {
        guard let (volume, op) = store.read({ s -> (VolumeRecord, PendingOperation)? in
            guard let v = s.volumes[id], let op = v.pending else { return nil }
            return (v, op)
        }) else { return }
        background { [self] in
            var failure: (any Error)?
            do {
                if let source = op.sourceID {
                    try SparseFile.copy(from: store.snapshotPath(source), to: store.volumePath(id), size: volume.size)
                } else {
                    try SparseFile.create(at: store.volumePath(id), size: volume.size)
                }
            } catch {
                failure = error
                logger.warning("volume \(id) creation failed: \(error)")
            }
            let succeeded = failure == nil
            after(op.readyAt) { [self] in
                store.mutate { s in
                    guard var v = s.volumes[id], v.pending == op else { return }
                    v.pending = nil
                    v.state = succeeded && op.fault != .asyncError ? op.finalState : "error"
                    if v.state == op.finalState, v.reference != nil { v.state = "in_use" }
                    v.modifiedAt = Date()
                    s.volumes[id] = v
                }
            }
        }
    }

    // MARK: Attachments

    /// Settles volume `id`'s attachment at its deadline: `attaching` becomes
    /// `attached`; `detaching` ends the attachment (the volume `available`).
    func runAttachment(_ id: String) {
        guard let reference = store.read({ $0.volumes[id]?.reference }), let readyAt = reference.readyAt else { return }
        after(readyAt) { [self] in
            store.mutate { s in
                guard var v = s.volumes[id], v.reference == reference else { return }
                let now = Date()
                if reference.status == "detaching" {
                    v.reference = nil
                    v.serverID = nil
                    if v.state == "in_use" { v.state = "available" }
                    v.lastDetachedAt = now
                } else {
                    v.reference?.status = "attached"
                    v.reference?.readyAt = nil
                }
                v.modifiedAt = now
                s.volumes[id] = v
            }
        }
    }

    // MARK: Servers

    /// Completes server `id`'s power transition at its deadline.
    func runServerTransition(_ id: String) {
        guard let transition = store.read({ $0.servers[id]?.transition }) else { return }
        after(transition.readyAt) { [self] in
            var removedVolumes: [String] = []
            store.mutate { s in
                guard var server = s.servers[id], server.transition == transition else { return }
                let now = Date()
                if transition.action == "terminate" {
                    // terminate deletes local volumes and only detaches SBS ones.
                    for volumeID in server.volumes.values {
                        guard var v = s.volumes[volumeID] else { continue }
                        if v.type.isBlock {
                            v.serverID = nil
                            v.reference = nil
                            v.state = "available"
                            v.lastDetachedAt = now
                            v.modifiedAt = now
                            s.volumes[volumeID] = v
                        } else {
                            s.volumes[volumeID] = nil
                            removedVolumes.append(volumeID)
                        }
                    }
                    s.servers[id] = nil
                    return
                }
                server.state = transition.targetState
                server.stateDetail = transition.targetState == "running" ? "booted" : ""
                server.transition = nil
                server.modifiedAt = now
                s.servers[id] = server
            }
            for volumeID in removedVolumes { unlink(store.volumePath(volumeID)) }
        }
    }
}
