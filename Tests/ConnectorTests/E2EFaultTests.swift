import Foundation
import PluginTestSupport
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
        let before = try await fixture.resourceIDs()
        // A reproducible tenth of the API calls answer 429 (the client retries 3 times, the
        // pollers keep polling); three image downloads are cut mid-body and resume.
        fixture.sim.faults.install(FaultRule(service: "api", action: .rateLimit, count: nil, probability: 0.1, seed: 7))
        fixture.sim.faults.install(FaultRule(service: "s3", method: "GET", pathContains: ".qcow2", action: .reset,
                                             afterBytes: 200_000, count: 3))
        let e2e = E2EDriver(fixture: fixture)
        let (files, summary, _) = try await e2e.backup(fixture.config(location: "scaleway-instance://web-01",
                                                                      extra: ["zone": "fr-par-1"]))
        XCTAssertEqual(summary["status"] as? String, "ok")
        let fired = fixture.sim.faults.firedCounts.values.reduce(0, +)
        XCTAssertGreaterThan(fired, 3, "the faults did not fire")
        let image = files.first { $0.path == "/volumes/0-\(ids[0]!).qcow2" }!
        try await e2e.assertImage(image.bytes, holdsVolume: ids[0]!)
        fixture.sim.faults.clear()
        let after = try await fixture.resourceIDs()
        XCTAssertEqual(after["snapshots"], before["snapshots"])
        XCTAssertEqual(after["objects"], before["objects"])
    }

    func testExportEndingInErrorFailsPreciselyAndCleansUp() async throws {
        let before = try await fixture.resourceIDs()
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
        let after = try await fixture.resourceIDs()
        XCTAssertEqual(after["snapshots"], before["snapshots"], "temporary snapshots left")
        XCTAssertEqual(after["objects"], before["objects"], "staging objects left")
    }

    func testStdinEOFCleansUp() async throws {
        let before = try await fixture.resourceIDs()
        let plugin = try PluginProcess()
        _ = try await plugin.call("open", ["protocol": "scaleway-instance", "mode": "importer",
                                           "config": fixture.config(location: "scaleway-instance://web-01")])
        _ = try await plugin.call("list")
        // The host dies: stdin closes without close. The plugin must clean up before exiting.
        plugin.finish()
        let after = try await fixture.resourceIDs()
        XCTAssertEqual(after["snapshots"], before["snapshots"], "temporary snapshots left after EOF")
        XCTAssertEqual(after["objects"], before["objects"], "staging objects left after EOF")
    }

    func testStopConsistencyPowersOffAndBackOn() async throws {
        let web = try await fixture.server(named: "web-01")!
        XCTAssertEqual(web["state"] as? String, "running")
        let (files, summary, progress) = try await E2EDriver(fixture: fixture).backup(
            fixture.config(location: "scaleway-instance://\(web["id"] as! String)", extra: ["consistency": "stop"]))
        XCTAssertEqual(summary["status"] as? String, "ok")
        let messages = progress.compactMap { $0["message"] as? String }
        XCTAssertTrue(messages.contains { $0.contains("powering off") }, "\(messages)")
        XCTAssertTrue(messages.contains { $0.contains("back on") }, "\(messages)")
        let after = try await fixture.server(named: "web-01")!
        XCTAssertTrue(["running", "starting"].contains(after["state"] as? String ?? ""), "web-01 is \(after["state"] ?? "?")")
        let manifest = try JSONSerialization.jsonObject(with: files.first { $0.path == "/instance.json" }!.bytes) as! [String: Any]
        XCTAssertEqual(manifest["consistency"] as? String, "stop")
    }
}
