import Foundation
import PluginTestSupport
import ScalewayKit
import ScalewaySimulator
import Testing

/// The plugin SIGKILLed in the middle of a backup and of a restore: no
/// cleanup can run, so a later run must find what the killed one left (by
/// its tags and staging prefix), reclaim it and say so.
@Suite(.serialized) struct KillRecoveryTests {
    /// Everything in `after` that is not in `before`, by kind.
    static func leftovers(_ after: Inventory, since before: Inventory) -> [String: Set<String>] {
        var out: [String: Set<String>] = [:]
        for (kind, _) in Inventory.kinds {
            let new = after.ids(kind).subtracting(before.ids(kind))
            if !new.isEmpty { out[kind] = new }
        }
        return out
    }

    static func reclaimedIDs(_ close: [String: Any]?) -> Set<String> {
        let summary = close?["summary"] as? [String: Any] ?? close ?? [:]
        let reclaimed = summary["reclaimed_leftovers"] as? [String: Any] ?? summary["reclaimed"] as? [String: Any] ?? [:]
        var ids = Set<String>()
        for (_, value) in reclaimed { for id in value as? [String] ?? [] { ids.insert(id) } }
        return ids
    }

    @Test func backupKilledMidRunIsReclaimedByTheNextBackup() async throws {
        let fixture = try SimulatorFixture()
        defer { fixture.stop() }
        let before = try await fixture.inventory()
        let web = try await fixture.server(named: "web-01")!
        let serverID = web["id"] as! String
        let plugin = try PluginProcess()
        _ = try await plugin.call("open", SessionDriver.openParams(fixture.config(), mode: "importer"))
        _ = try await plugin.call("list")
        // Kill once the run has billable debris: a staged image and its snapshots.
        try await fixture.wait(timeout: 60, "a staged image") { state in
            (state["objects"] as? [[String: Any]] ?? []).contains {
                ($0["key"] as? String ?? "").hasPrefix("plakar-scaleway/\(serverID)/") && ($0["size"] as? Int ?? 0) > 0
            }
        }
        plugin.kill()
        let killed = Self.leftovers(try await fixture.inventory(), since: before)
        #expect(killed["snapshots"] != nil, "the killed backup left no snapshot: the test proves nothing")
        #expect(killed["objects"] != nil, "the killed backup left no staged object: the test proves nothing")

        // A new backup of the same instance.
        let next = try PluginProcess(logLevel: "info")
        let outcome = try await SessionDriver.backup(next, fixture.config())
        next.finish()
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        let after = Self.leftovers(try await fixture.inventory(), since: before)
        let reported = Self.reclaimedIDs(outcome.closeResult)
        // The killed run's lease names this machine and a process that no
        // longer exists: it is dead at once, whatever reclaim_after says.
        #expect(after.isEmpty, "still left after the next backup: \(after)")
        let expected = killed.filter { $0.key != "multipart_uploads" }.values.reduce(Set<String>()) { $0.union($1) }
        #expect(reported.isSuperset(of: expected), "reclaimed \(reported), left by the killed run \(expected)")
        #expect(expected.contains { $0.hasPrefix("plakar-scaleway/runs/") }, "the killed backup held no lease: \(expected)")
        Self.expectReported(expected, by: next)
    }

    @Test func restoreKilledMidRunIsReclaimedByTheNextRestore() async throws {
        let (fixture, backup, before) = try await Self.backedUp()
        defer { fixture.stop() }

        // Kill while the second image is arriving: the first is uploaded and
        // importing, the second has a multipart upload open.
        let plugin = try PluginProcess()
        let images = backup.files.filter { $0.path.hasSuffix(".qcow2") }.map(\.path).sorted()
        #expect(images.count >= 2)
        let killedFlag = Counter()
        _ = try? await SessionDriver.restore(plugin, backup.files, config: fixture.config(location: "scaleway-instance://"),
                                             afterChunk: { path, offset in
            guard killedFlag.value == 0, images.count >= 2, path == images[1], offset >= (1 << 20) else { return }
            try await fixture.wait(timeout: 60, "staged restore data") { state in
                !(state["multipart_uploads"] as? [[String: Any]] ?? []).isEmpty
                    || (state["objects"] as? [[String: Any]] ?? []).contains { ($0["key"] as? String ?? "").contains("/restore/") }
            }
            killedFlag.value = 1
            plugin.kill()
            throw CancellationError()
        })
        #expect(killedFlag.value == 1, "the restore was never killed")
        let killed = Self.leftovers(try await fixture.inventory(), since: before)
        #expect(!killed.isEmpty, "the killed restore left nothing: the test proves nothing")

        let (outcome, next, after) = try await Self.nextRestore(fixture, backup.files, since: before)
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        let reported = Self.reclaimedIDs(outcome.closeResult)
        #expect(after.isEmpty, "still left after the next restore: \(after)")
        #expect(!reported.isEmpty, "the next restore reported no reclaim")
        let expected = killed.filter { $0.key != "multipart_uploads" }.values.reduce(Set<String>()) { $0.union($1) }
        #expect(reported.isSuperset(of: expected), "reclaimed \(reported), left by the killed run \(expected)")
        if let uploads = killed["multipart_uploads"] {
            #expect(reported.isSuperset(of: uploads), "incomplete uploads \(uploads) not reported as reclaimed: \(reported)")
        }
        Self.expectReported(expected, by: next)
    }

    /// A simulator whose web-01 is backed up (the files to restore), and its
    /// inventory after that backup.
    static func backedUp() async throws -> (fixture: SimulatorFixture, backup: SessionDriver.Outcome, before: Inventory) {
        let fixture = try SimulatorFixture()
        do {
            let source = try PluginProcess()
            let backup = try await SessionDriver.backup(source, fixture.config())
            source.finish()
            #expect(backup.errors.isEmpty, "\(backup.errors)")
            return (fixture, backup, try await fixture.inventory())
        } catch {
            fixture.stop()
            throw error
        }
    }

    /// A restore after a killed one: its outcome, its plugin (for what it
    /// reported), and what is left since `before` besides the instance it
    /// legitimately restored (web-01-restored and its volumes).
    static func nextRestore(_ fixture: SimulatorFixture, _ files: [SessionDriver.File], since before: Inventory) async throws
        -> (outcome: SessionDriver.Outcome, plugin: PluginProcess, left: [String: Set<String>]) {
        let next = try PluginProcess(logLevel: "info")
        let outcome = try await SessionDriver.restore(next, files, config: fixture.config(location: "scaleway-instance://"))
        next.finish()
        var after = leftovers(try await fixture.inventory(), since: before)
        if let restored = try await fixture.server(named: "web-01-restored") {
            after["servers"]?.remove(restored["id"] as! String)
            for id in SimulatorFixture.volumeIDs(restored).values { after["volumes"]?.remove(id) }
        }
        return (outcome, next, after.filter { !$0.value.isEmpty })
    }

    /// Each reclaimed resource is named on stderr and in a `log` notification to the host.
    static func expectReported(_ ids: Set<String>, by plugin: PluginProcess) {
        let stderr = String(decoding: plugin.stderr, as: UTF8.self)
        let logs = plugin.notifications.filter { $0["method"] as? String == "log" }
            .compactMap { ($0["params"] as? [String: Any])?["message"] as? String }
            .filter { $0.contains("reclaimed") }
        for id in ids {
            #expect(stderr.split(separator: "\n").contains { $0.contains("reclaimed") && $0.contains(id) },
                    "no stderr line names reclaimed \(id)")
            #expect(logs.contains { $0.contains(id) }, "no log notification names reclaimed \(id): \(logs)")
        }
    }

    /// Killed while `close` assembles: half-restored volumes (one still
    /// being created, tagged with the run) must go too, not only staging.
    @Test func restoreKilledWhileCreatingVolumesIsReclaimedByTheNextRestore() async throws {
        let (fixture, backup, before) = try await Self.backedUp()
        defer { fixture.stop() }
        // SBS volume creation slowed down so that the kill lands while one is `creating`.
        try await fixture.setDurations(["block_volume_create": 3])

        let plugin = try PluginProcess()
        let killer = Task {
            try await fixture.wait(timeout: 120, "a restored volume being created") { state in
                (state["volumes"] as? [[String: Any]] ?? []).contains { volume in
                    (volume["tags"] as? [String] ?? []).contains { $0.hasPrefix("plakar-scaleway-restore=") }
                        && volume["status"] as? String == "creating"
                }
            }
            plugin.kill()
        }
        _ = try? await SessionDriver.restore(plugin, backup.files, config: fixture.config(location: "scaleway-instance://"))
        try await killer.value
        let killed = Self.leftovers(try await fixture.inventory(), since: before)
        #expect(killed["volumes"] != nil, "the killed restore left no volume: the test proves nothing")
        #expect(killed["snapshots"] != nil, "the killed restore left no imported snapshot: \(killed)")

        try await fixture.setDurations(["block_volume_create": 0.002])
        let (outcome, next, after) = try await Self.nextRestore(fixture, backup.files, since: before)
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        #expect(after.isEmpty, "still left after the next restore: \(after)")
        let reported = Self.reclaimedIDs(outcome.closeResult)
        let expected = killed.filter { $0.key != "multipart_uploads" }.values.reduce(Set<String>()) { $0.union($1) }
        #expect(reported.isSuperset(of: expected), "reclaimed \(reported), left by the killed run \(expected)")
        Self.expectReported(expected, by: next)
    }
}
