import Foundation
import PluginTestSupport
import ScalewayKit
import ScalewaySimulator
import XCTest

/// The timeout keys through the plugin binary, against the simulator: a
/// stalled download is cut at `stall_timeout` and resumed; a snapshot slower
/// than `snapshot_timeout` fails with an error naming the key; both clean up.
final class TimeoutE2ETests: XCTestCase {
    var fixture: SimulatorFixture!

    override func setUp() async throws { fixture = try SimulatorFixture() }
    override func tearDown() async throws { fixture?.stop() }

    func testStalledDownloadIsCutAtStallTimeoutAndResumed() async throws {
        let web = try await fixture.server(named: "web-01")!
        let ids = SimulatorFixture.volumeIDs(web)
        let before = try await fixture.resourceIDs()
        // One image download stalls mid-body for a minute: far past the 2 s stall_timeout.
        let rule = fixture.sim.faults.install(FaultRule(service: "s3", method: "GET", pathContains: ".qcow2", action: .stall,
                                                        afterBytes: 100_000, seconds: 60, count: 1))
        let e2e = E2EDriver(fixture: fixture)
        let started = ContinuousClock.now
        let (files, summary, _) = try await e2e.backup(fixture.config(location: "scaleway-instance://web-01",
                                                                      extra: ["zone": "fr-par-1", "stall_timeout": "2s"]))
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(fixture.sim.faults.firedCounts[rule.id ?? ""], 1, "the stall never fired")
        XCTAssertEqual(summary["status"] as? String, "ok")
        XCTAssertLessThan(elapsed, .seconds(50), "the stall was waited out instead of timed out")
        for (index, id) in ids {
            let image = try XCTUnwrap(files.first { $0.path == "/volumes/\(index)-\(id).qcow2" })
            try await e2e.assertImage(image.bytes, holdsVolume: id)
        }
        fixture.sim.faults.clear()
        let after = try await fixture.resourceIDs()
        XCTAssertEqual(after["snapshots"], before["snapshots"])
        XCTAssertEqual(after["objects"], before["objects"])
    }

    func testSnapshotSlowerThanSnapshotTimeoutNamesTheKey() async throws {
        let before = try await fixture.resourceIDs()
        // Snapshots take 6 s from now on (both spellings: the simulator ignores unknown fields).
        let body = Array(#"{"instanceSnapshot": 6, "blockSnapshot": 6, "instance_snapshot": 6, "block_snapshot": 6}"#.utf8)
        let set = try await fixture.transport.send(HTTPRequest(method: .post, url: fixture.sim.endpoints.apiURL + "/_sim/durations",
                                                               headers: ["Content-Type": "application/json"], body: .bytes(body)))
        XCTAssertEqual(set.status, 200, String(decoding: set.body, as: UTF8.self))
        let plugin = try PluginProcess()
        defer { plugin.finish() }
        var errors: [PluginProcess.RPCError] = []
        do {
            _ = try await plugin.call("open", ["protocol": "scaleway-instance", "mode": "importer",
                                               "config": fixture.config(location: "scaleway-instance://web-01",
                                                                        extra: ["snapshot_timeout": "1s"])])
            let records = try await plugin.call("list")["records"] as! [[String: Any]]
            for record in records where (record["pathname"] as! String).hasSuffix(".qcow2") {
                do {
                    _ = try await plugin.call("read", ["path": record["pathname"] as! String, "offset": 0, "length": 65536])
                } catch let error as PluginProcess.RPCError { errors.append(error) }
            }
        } catch let error as PluginProcess.RPCError { errors.append(error) }
        do { _ = try await plugin.call("close", timeout: 120) } catch let error as PluginProcess.RPCError { errors.append(error) }
        let messages = errors.map(\.message)
        XCTAssertTrue(messages.contains { $0.contains("gave up waiting for") && $0.contains("after 1s (the limit set by snapshot_timeout)") },
                      "\(messages)")
        XCTAssertTrue(errors.contains { ($0.data["hint"] as? String ?? "").contains("raise snapshot_timeout") }, "\(errors)")
        let after = try await fixture.resourceIDs()
        XCTAssertEqual(after["snapshots"], before["snapshots"], "temporary snapshots left")
        XCTAssertEqual(after["objects"], before["objects"], "staging objects left")
    }
}
