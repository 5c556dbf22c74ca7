import Foundation
import JSONRPC
import Logging

/// Deletes what a killed backup of the same instance left behind.
///
/// Runs at the start of `list` (never at `open` or `ping`, which have no
/// side effects). A leftover is a snapshot tagged `plakar-scaleway` and
/// `plakar-scaleway-server=<this server>`, or an object under
/// `<prefix><server-id>/<run-id>/`, whose run id (it starts with its UTC
/// start time) is older than ``minimumAge``: a backup of the same instance
/// still running elsewhere is younger and left alone. Best effort: a
/// failure is logged and never fails the backup. keep_staging=true skips
/// the reclaim (the user keeps staging areas on purpose).
struct LeftoverReclaimer {
    static let minimumAge: TimeInterval = 24 * 3600

    let compute: any ComputeAPI
    let store: any ObjectStore
    let zone: Zone
    let bucket: String
    let prefix: String
    let serverID: String
    let project: String
    let currentRunID: String
    private let logger = Logger(label: "reclaim")

    init(compute: any ComputeAPI, store: any ObjectStore, zone: Zone, bucket: String, prefix: String,
         serverID: String, project: String, currentRunID: String) {
        self.compute = compute
        self.store = store
        self.zone = zone
        self.bucket = bucket
        self.prefix = prefix
        self.serverID = serverID
        self.project = project
        self.currentRunID = currentRunID
    }

    /// The start time encoded in a run id, e.g. `20261204T155300Z-1a2b3c`.
    static func startTime(ofRunID runID: String) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return f.date(from: String(runID.prefix(16)))
    }

    func isStale(_ runID: String, now: Date) -> Bool {
        guard runID != currentRunID, let start = Self.startTime(ofRunID: runID) else { return false }
        return now.timeIntervalSince(start) > Self.minimumAge
    }

    func reclaim(now: Date = Date()) async -> JSONValue {
        var snapshots: [JSONValue] = []
        var objects: [JSONValue] = []
        let serverTag = "plakar-scaleway-server=\(serverID)"
        for family in [VolumeFamily.lSSD, .sbs] {
            do {
                let found = family == .lSSD ? try await compute.listInstanceSnapshots(zone: zone, project: project)
                                            : try await compute.listBlockSnapshots(zone: zone, project: project)
                for snapshot in found where snapshot.tags.contains(Naming.tag) && snapshot.tags.contains(serverTag) {
                    guard let run = snapshot.tags.first(where: { $0.hasPrefix("plakar-scaleway-run=") })?
                        .dropFirst("plakar-scaleway-run=".count), isStale(String(run), now: now),
                        !["snapshotting", "creating", "exporting", "importing"].contains(snapshot.status)
                    else { continue }
                    do {
                        switch family {
                        case .lSSD: try await compute.deleteInstanceSnapshot(zone: zone, id: snapshot.id)
                        case .sbs: try await compute.deleteBlockSnapshot(zone: zone, id: snapshot.id)
                        }
                        snapshots.append(.string(snapshot.id))
                    } catch {
                        logger.warning("could not reclaim leftover snapshot \(snapshot.id): \(error)")
                    }
                }
            } catch {
                logger.warning("could not look for leftover \(family.rawValue) snapshots: \(error)")
            }
        }
        let serverPrefix = "\(prefix)\(serverID)/"
        do {
            for object in try await store.listObjects(bucket: bucket, prefix: serverPrefix) {
                let run = object.key.dropFirst(serverPrefix.count).split(separator: "/").first.map(String.init) ?? ""
                guard isStale(run, now: now) else { continue }
                do {
                    try await store.deleteObject(bucket: bucket, key: object.key)
                    objects.append(.string(object.key))
                } catch {
                    logger.warning("could not reclaim leftover object \(object.key): \(error)")
                }
            }
        } catch {
            logger.warning("could not look for leftover staging objects: \(error)")
        }
        if !snapshots.isEmpty || !objects.isEmpty {
            logger.info("reclaimed \(snapshots.count) snapshot(s) and \(objects.count) object(s) left by earlier runs")
        }
        return ["snapshots": .array(snapshots), "objects": .array(objects)]
    }
}
