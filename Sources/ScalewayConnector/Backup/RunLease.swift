import Foundation
import Logging

/// What a run lease says: which run, of what kind, where, by whom, and
/// when it was last renewed. Stored as `<prefix>runs/<run-id>.json`.
struct RunLeaseRecord: Codable, Sendable, Equatable {
    enum Kind: String, Codable, Sendable { case backup, restore }
    /// `running` until a restore has assembled its instance, then
    /// `assembled`: the volumes and server are the user's result from then
    /// on, and a reclaim of this run leaves them alone.
    enum Phase: String, Codable, Sendable { case running, assembled }

    var runID: String
    var kind: Kind
    /// Backup: the instance backed up. Restore: the target instance (in
    /// place or partial), nil for a new instance.
    var serverID: String?
    var zone: String
    var project: String
    var holder: LeaseHolder
    var startedAt: Date
    var renewedAt: Date
    var phase: Phase = .running
    var pluginVersion: String = PluginVersion.string

    enum CodingKeys: String, CodingKey {
        case runID = "run_id", kind, serverID = "server_id", zone, project, holder
        case startedAt = "started_at", renewedAt = "renewed_at", phase, pluginVersion = "plugin_version"
    }

    func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(self))
    }

    static func decode(_ bytes: [UInt8]) throws -> RunLeaseRecord {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(RunLeaseRecord.self, from: Data(bytes))
    }
}

/// How often a lease is renewed and when an unrenewed one counts as dead.
struct LeasePolicy: Sendable {
    /// `reclaim_after`: a lease not renewed for this long belongs to a dead run.
    var staleAfter: Duration
    /// How often the holder renews; a quarter of ``staleAfter`` so that
    /// three renewals in a row can fail (network blip, 5xx burst) before a
    /// live run can be mistaken for a dead one.
    var renewEvery: Duration

    init(staleAfter: Duration, renewEvery: Duration? = nil) {
        self.staleAfter = staleAfter
        self.renewEvery = renewEvery ?? staleAfter / 4
    }
}

/// The lease a running backup or restore holds in the staging bucket.
///
/// Why a lease: a SIGKILLed run cannot clean up, and a later run must tell
/// its leftovers from those of a run still working (another Plakar job on
/// the same instance, a restore running elsewhere). Run ids carry their
/// start time, but age alone cannot tell a killed run from a long one, so
/// before leases a leftover waited 24 h. A lease renewed every
/// `reclaim_after / 4` makes death observable within `reclaim_after`, and
/// at once on the same machine (``LeaseHolder/isProvablyGone(seenFrom:)``).
///
/// Life cycle: ``acquire()`` writes it before the run creates anything,
/// a background task renews it, ``end(abandon:)`` stops the renewals and
/// deletes it (or leaves it to go stale when cleanup left something
/// behind, so that a later run reclaims that). Every failure is logged and
/// never fails the run: without a lease, leftovers fall back to the 24 h
/// age rule.
actor RunLease {
    let store: any ObjectStore
    let bucket: String
    let key: String
    let policy: LeasePolicy
    private(set) var record: RunLeaseRecord
    private var renewal: Task<Void, Never>?
    private var written = false
    private let logger = Logger(label: "lease")

    init(store: any ObjectStore, bucket: String, prefix: String, policy: LeasePolicy, runID: String,
         kind: RunLeaseRecord.Kind, serverID: String?, zone: Zone, project: String) {
        self.store = store
        self.bucket = bucket
        self.key = Naming.leaseKey(prefix: prefix, runID: runID)
        self.policy = policy
        let now = Date()
        self.record = RunLeaseRecord(runID: runID, kind: kind, serverID: serverID, zone: zone.name, project: project,
                                     holder: .current, startedAt: now, renewedAt: now)
    }

    /// Writes the lease and starts renewing it.
    func acquire() async {
        guard renewal == nil else { return }
        await write()
        let every = policy.renewEvery
        renewal = Task { [weak self] in
            while !Task.isCancelled {
                do { try await Task.sleep(for: every) } catch { return }
                guard let self, !Task.isCancelled else { return }
                await self.write()
            }
        }
    }

    /// A restore's instance is assembled: a reclaim must leave its volumes and server alone.
    func markAssembled() async {
        record.phase = .assembled
        if renewal != nil { await write() }
    }

    /// Stops renewing, then deletes the lease, unless `abandon`: then it is
    /// left to go stale, and a later run reclaims what this one could not clean.
    func end(abandon: Bool = false) async {
        guard let task = renewal else { return }
        renewal = nil
        task.cancel()
        // A renewal in flight must land before the delete, or it would resurrect the lease.
        await task.value
        if abandon {
            logger.warning("leaving lease s3://\(bucket)/\(key) to go stale: a later run will reclaim what run \(record.runID) left")
            return
        }
        guard written else { return }
        do {
            try await store.deleteObject(bucket: bucket, key: key)
        } catch where CloudFailure.isNotFound(error) {
        } catch {
            logger.warning("could not delete lease s3://\(bucket)/\(key): \(error); it goes stale and a later run removes it")
        }
    }

    private func write() async {
        record.renewedAt = Date()
        do {
            try await store.putObject(bucket: bucket, key: key, bytes: try record.encoded(), contentType: "application/json")
            written = true
        } catch {
            logger.warning("could not write lease s3://\(bucket)/\(key): \(error) (the run goes on; renewal is retried)")
        }
    }
}
