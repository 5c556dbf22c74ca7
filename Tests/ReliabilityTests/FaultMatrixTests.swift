import Foundation
import PluginTestSupport
import ScalewaySimulator
import XCTest

/// Backup and restore under injected faults: every case ends in success
/// with exact data or in an explained failure, and either way with zero
/// leaked objects, uploads, snapshots or volumes and no change to what
/// existed before (the simulator's whole state is compared).
final class FaultMatrixTests: XCTestCase {
    var fixture: SimulatorFixture!

    override func setUp() async throws { fixture = try SimulatorFixture() }
    override func tearDown() async throws { fixture?.stop() }

    static var heavy: Bool { ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_HEAVY"] == "1" }

    enum Expect { case success, successOrExplainedFailure }

    /// One backup under `faults`; checks the outcome and the leak-free state.
    @discardableResult
    func backup(under faults: [FaultRule], expect: Expect, _ what: String, config extra: [String: String] = [:],
                file: StaticString = #filePath, line: UInt = #line) async throws -> SessionDriver.Outcome {
        let before = try await fixture.inventory()
        let installed = faults.map { fixture.sim.faults.install($0) }
        let plugin = try PluginProcess()
        let outcome = try await SessionDriver.backup(plugin, fixture.config(extra: extra))
        plugin.finish()
        let fired = fixture.sim.faults.firedCounts
        fixture.sim.faults.clear()
        for rule in installed where fired[rule.id ?? "", default: 0] == 0 {
            XCTFail("\(what): fault \(rule.action) on \(rule.service) \(rule.method ?? "") \(rule.pathContains ?? "") never fired",
                    file: file, line: line)
        }
        try await judge(outcome, expect: expect, what, file: file, line: line)
        if outcome.errors.isEmpty {
            // Success: the images must be exact.
            let web = try await fixture.server(named: "web-01")!
            for (index, id) in SimulatorFixture.volumeIDs(web) {
                guard let image = outcome.files.first(where: { $0.path == "/volumes/\(index)-\(id).qcow2" }) else {
                    XCTFail("\(what): no image of volume \(index)", file: file, line: line); continue
                }
                try assertImage(image.bytes, holdsVolume: id, what, file: file, line: line)
            }
        }
        let after = try await fixture.inventory()
        for change in after.changes(since: before) { XCTFail("\(what): \(change)", file: file, line: line) }
        return outcome
    }

    /// One restore of `files` under `faults`; on success only the restored
    /// server and its volumes may be new.
    func restore(_ files: [SessionDriver.File], under faults: [FaultRule], expect: Expect, _ what: String,
                 file: StaticString = #filePath, line: UInt = #line) async throws {
        let before = try await fixture.inventory()
        let installed = faults.map { fixture.sim.faults.install($0) }
        let plugin = try PluginProcess()
        let outcome = try await SessionDriver.restore(plugin, files, config: fixture.config(location: "scaleway-instance://"))
        plugin.finish()
        let fired = fixture.sim.faults.firedCounts
        fixture.sim.faults.clear()
        for rule in installed where fired[rule.id ?? "", default: 0] == 0 {
            XCTFail("\(what): fault \(rule.action) on \(rule.service) \(rule.method ?? "") \(rule.pathContains ?? "") never fired",
                    file: file, line: line)
        }
        try await judge(outcome, expect: expect, what, file: file, line: line)
        var allowed: [String: Set<String>] = [:]
        var changedVolumes = Set<String>()
        if outcome.errors.isEmpty, let server = try await fixture.server(named: "web-01-restored") {
            let id = server["id"] as! String
            let volumes = Set(SimulatorFixture.volumeIDs(server).values)
            allowed = ["servers": [id], "volumes": volumes]
            changedVolumes = volumes
            // Success: every restored volume holds the original's bytes.
            let original = SimulatorFixture.volumeIDs(try await fixture.server(named: "web-01")!)
            let restored = SimulatorFixture.volumeIDs(server)
            XCTAssertEqual(Set(restored.keys), Set(original.keys), "\(what): volume indexes", file: file, line: line)
            for (index, id) in restored {
                guard let source = original[index] else { continue }
                let got = try await fixture.digest(volume: id), want = try await fixture.digest(volume: source)
                XCTAssertEqual(got, want, "\(what): restored volume \(index) differs", file: file, line: line)
            }
        }
        let after = try await fixture.inventory()
        for change in after.changes(since: before, allowedNew: allowed, allowedChanged: ["volumes": changedVolumes]) {
            XCTFail("\(what): \(change)", file: file, line: line)
        }
    }

    func judge(_ outcome: SessionDriver.Outcome, expect: Expect, _ what: String,
               file: StaticString = #filePath, line: UInt = #line) async throws {
        switch expect {
        case .success:
            XCTAssertTrue(outcome.errors.isEmpty, "\(what): failed: \(outcome.errors)", file: file, line: line)
            XCTAssertNotNil(outcome.closeResult, "\(what): close failed", file: file, line: line)
        case .successOrExplainedFailure:
            for error in outcome.errors {
                XCTAssertGreaterThan(error.message.count, 20, "\(what): unexplained failure \(error)", file: file, line: line)
            }
        }
    }

    /// `qemu-img compare` of the image with the simulator's sparse volume file.
    func assertImage(_ image: Data, holdsVolume id: String, _ what: String, file: StaticString, line: UInt) throws {
        let status = try fixture.compare(image: image, withVolume: id)
        XCTAssertEqual(status, 0, "\(what): the image of \(id) differs from the volume", file: file, line: line)
    }

    /// A clean backup, for the restore cases.
    func cleanBackup() async throws -> [SessionDriver.File] {
        let plugin = try PluginProcess()
        let outcome = try await SessionDriver.backup(plugin, fixture.config())
        plugin.finish()
        XCTAssertTrue(outcome.errors.isEmpty, "clean backup failed: \(outcome.errors)")
        return outcome.files
    }

    // MARK: backup

    func testBackupUnder429StormsOnAPIAndObjectStorage() async throws {
        try await backup(under: [
            FaultRule(service: "api", action: .rateLimit, count: nil, probability: 0.15, seed: 11),
            FaultRule(service: "s3", action: .rateLimit, count: nil, probability: 0.15, seed: 12),
        ], expect: .success, "429 storm")
    }

    func testBackupUnder5xxBursts() async throws {
        try await backup(under: [
            FaultRule(service: "api", method: "GET", action: .status, status: 503, count: 3),
            FaultRule(service: "api", method: "GET", pathContains: "/snapshots", action: .status, status: 500, skip: 2, count: 2),
            FaultRule(service: "s3", method: "GET", action: .status, status: 503, count: 2),
            FaultRule(service: "s3", method: "GET", pathContains: ".qcow2", action: .status, status: 500, skip: 1, count: 2),
        ], expect: .success, "500/503 bursts on reads")
    }

    func testBackupWith5xxOnCreatesFailsCleanlyOrSucceeds() async throws {
        try await backup(under: [FaultRule(service: "api", method: "POST", action: .status, status: 503, skip: 1, count: 2)],
                         expect: .successOrExplainedFailure, "503 on create/export POSTs")
    }

    func testBackupWithResetsMidDownload() async throws {
        try await backup(under: [FaultRule(service: "s3", method: "GET", pathContains: ".qcow2", action: .reset,
                                           afterBytes: 100_000, count: 4)], expect: .success, "resets mid-download")
    }

    func testSnapshotEndingInErrorFailsPreciselyAndLeaksNothing() async throws {
        let outcome = try await backup(under: [FaultRule(service: "api", method: "POST", pathContains: "/snapshots",
                                                         action: .asyncError, count: 1)],
                                       expect: .successOrExplainedFailure, "snapshot ending in error")
        XCTAssertFalse(outcome.errors.isEmpty, "a failed snapshot went unnoticed")
        XCTAssertTrue(outcome.errors.contains { $0.message.contains("snapshot") }, "\(outcome.errors.map(\.message))")
    }

    func testExportEndingInErrorFailsPreciselyAndLeaksNothing() async throws {
        let outcome = try await backup(under: [FaultRule(service: "api", method: "POST", pathContains: "export",
                                                         action: .asyncError, count: 1)],
                                       expect: .successOrExplainedFailure, "export ending in error")
        XCTAssertFalse(outcome.errors.isEmpty, "a failed export went unnoticed")
        XCTAssertTrue(outcome.errors.contains { $0.message.contains("export") }, "\(outcome.errors.map(\.message))")
    }

    /// A download that stalls for 60 s is cut by stall_timeout (2 s here)
    /// and resumed from the last byte received: the backup succeeds with
    /// exact images, long before the stall would have ended.
    func testStalledDownloadTimesOutAndIsRetried() async throws {
        let started = ContinuousClock.now
        try await backup(under: [FaultRule(service: "s3", method: "GET", pathContains: ".qcow2", action: .stall,
                                           seconds: 60, count: 1)], expect: .success, "stalled download",
                         config: ["stall_timeout": "2s"])
        let elapsed = ContinuousClock.now - started
        XCTAssertLessThan(elapsed, .seconds(50), "the stall was waited out, not cut by stall_timeout")
    }

    // MARK: restore

    func testRestoreUnderFaults() async throws {
        let files = try await cleanBackup()
        try await restore(files, under: [
            FaultRule(service: "api", action: .rateLimit, count: nil, probability: 0.1, seed: 21),
            // SlowDown on multipart create/complete (POST); the part PUTs get a 503, then two resets mid-body.
            FaultRule(service: "s3", method: "POST", action: .rateLimit, count: nil, probability: 0.3, seed: 22),
            FaultRule(service: "s3", method: "PUT", pathContains: ".qcow2", action: .status, status: 503, count: 1),
            FaultRule(service: "s3", method: "PUT", pathContains: ".qcow2", action: .reset, afterBytes: 300_000, skip: 1, count: 2),
        ], expect: .success, "restore under 429, resets mid-part-upload and 503")
    }

    func testImportEndingInErrorFailsPreciselyAndRollsBack() async throws {
        let files = try await cleanBackup()
        try await restore(files, under: [FaultRule(service: "api", method: "POST", pathContains: "import",
                                                   action: .asyncError, count: 1)],
                          expect: .successOrExplainedFailure, "import ending in error")
        let server = try await fixture.server(named: "web-01-restored")
        XCTAssertNil(server, "a restore with a failed import created a server")
    }

    func testVolumeCreationEndingInErrorRollsBack() async throws {
        let files = try await cleanBackup()
        try await restore(files, under: [FaultRule(service: "api", method: "POST", pathContains: "/volumes",
                                                   action: .asyncError, count: 1)],
                          expect: .successOrExplainedFailure, "volume creation ending in error")
    }
}
