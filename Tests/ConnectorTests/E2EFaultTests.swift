import Foundation
import ScalewaySimulator
import XCTest

/// Backups under injected faults: they succeed with exact images, or fail
/// with a precise error, and clean up either way.
final class E2EFaultTests: XCTestCase {
    var fixture: SimulatorFixture!

    override func setUp() async throws { fixture = try SimulatorFixture() }
    override func tearDown() async throws { fixture?.stop() }

    func testRateLimitStormsAndCutDownloadsStillGiveExactImages() async throws {
        let web = try await fixture.server(named: "web-01")!
        let ids = SimulatorFixture.volumeIDs(web)
        let before = try await fixture.inventory()
        // A reproducible fifth of the API calls answer 429; three image downloads are cut mid-body.
        fixture.sim.faults.install(FaultRule(service: "api", action: .rateLimit, count: nil, probability: 0.2, seed: 7))
        fixture.sim.faults.install(FaultRule(service: "s3", method: "GET", pathContains: ".qcow2", action: .reset,
                                             afterBytes: 200_000, count: 3))
        let e2e = E2EDriver(fixture: fixture)
        let (files, summary, _) = try await e2e.backup(fixture.config(location: "scaleway-instance://web-01"))
        XCTAssertEqual(summary["status"] as? String, "ok")
        let fired = fixture.sim.faults.firedCounts.values.reduce(0, +)
        XCTAssertGreaterThan(fired, 3, "the faults did not fire")
        let image = files.first { $0.path == "/volumes/0-\(ids[0]!).qcow2" }!
        let want = try await fixture.digest(volume: ids[0]!)
        XCTAssertEqual(try e2e.rawDigest(of: image.bytes), want)
        fixture.sim.faults.clear()
        let after = try await fixture.inventory()
        XCTAssertEqual(after["snapshots"], before["snapshots"])
        XCTAssertEqual(after["objects"], before["objects"])
    }

    func testExportEndingInErrorFailsPreciselyAndCleansUp() async throws {
        let before = try await fixture.inventory()
        fixture.sim.faults.install(FaultRule(service: "api", method: "POST", pathContains: "/export", action: .asyncError, count: 1))
        let plugin = try PluginProcess()
        defer { plugin.finish() }
        _ = try await plugin.call("open", ["protocol": "scaleway-instance", "mode": "importer",
                                           "config": fixture.config(location: "scaleway-instance://web-01")])
        let records = try await plugin.call("list")["records"] as! [[String: Any]]
        var failures: [String] = []
        for record in records where (record["pathname"] as! String).hasSuffix(".qcow2") {
            do {
                _ = try await plugin.call("read", ["path": record["pathname"] as! String, "offset": 0, "length": 65536])
            } catch let error as PluginProcess.RPCError {
                failures.append(error.message)
            }
        }
        XCTAssertEqual(failures.count, 1, "\(failures)")
        XCTAssertTrue(failures.first?.contains("export of") ?? false && failures.first?.contains("failed") ?? false, "\(failures)")
        do {
            _ = try await plugin.call("close")
            XCTFail("close hid the failed export")
        } catch let error as PluginProcess.RPCError {
            XCTAssertTrue(error.message.contains("backup incomplete"), error.message)
        }
        let after = try await fixture.inventory()
        XCTAssertEqual(after["snapshots"], before["snapshots"], "temporary snapshots left")
        XCTAssertEqual(after["objects"], before["objects"], "staging objects left")
    }

    func testStdinEOFCleansUp() async throws {
        let before = try await fixture.inventory()
        let plugin = try PluginProcess()
        _ = try await plugin.call("open", ["protocol": "scaleway-instance", "mode": "importer",
                                           "config": fixture.config(location: "scaleway-instance://web-01")])
        _ = try await plugin.call("list")
        // The host dies: stdin closes without close. The plugin must clean up before exiting.
        plugin.finish()
        let after = try await fixture.inventory()
        XCTAssertEqual(after["snapshots"], before["snapshots"], "temporary snapshots left after EOF")
        XCTAssertEqual(after["objects"], before["objects"], "staging objects left after EOF")
    }
}
