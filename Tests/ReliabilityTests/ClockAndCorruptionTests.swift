import Foundation
import PluginTestSupport
@testable import ScalewaySimulator
import Testing

/// Faults the plugin can only survive by noticing them: a clock the
/// Object Storage refuses, and a staged image damaged by the export.
@Suite(.serialized) struct ClockAndCorruptionTests {
    /// A second Object Storage endpoint over the same account whose clock
    /// runs `offset` seconds ahead (the simulator has no clock control, so
    /// the test builds one from its parts).
    final class SkewedObjectStorage: @unchecked Sendable {
        // `@unchecked Sendable`: immutable after init.
        let server: HTTPServer
        init(_ fixture: SimulatorFixture, offset: TimeInterval) throws {
            let s3 = S3Service(store: fixture.sim.objectStore, keys: fixture.sim.core.store, region: fixture.sim.endpoints.region,
                               clock: { Date().addingTimeInterval(offset) })
            server = try HTTPServer(configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: fixture.directory + "/uploads"),
                                    handler: s3)
        }
        deinit { server.stop() }
    }

    @Test func clockSkewGivesAClearErrorAndLeavesNothing() async throws {
        let fixture = try SimulatorFixture()
        defer { fixture.stop() }
        let skewed = try SkewedObjectStorage(fixture, offset: 20 * 60)
        let before = try await fixture.inventory()
        let plugin = try PluginProcess()
        let outcome = try await SessionDriver.backup(plugin, fixture.config(extra: ["s3_endpoint": skewed.server.baseURL]))
        plugin.finish()
        let messages = outcome.errors.map(\.message)
        #expect(!messages.isEmpty, "a backup against an Object Storage 20 minutes ahead succeeded")
        // Not a permission problem: the error names the clock, by how much it is off, and the fix.
        #expect(messages.contains { $0.contains("clock") && $0.contains("20 min behind Object Storage") },
                "the error does not name the clock skew: \(messages)")
        #expect(!messages.contains { $0.contains("lacks") || $0.contains("permission") },
                "the clock skew is still reported as a permission problem: \(messages)")
        #expect(outcome.errors.contains { ($0.data["hint"] as? String ?? "").contains("NTP") }, "no hint to synchronise the clock: \(outcome.errors)")
        let after = try await fixture.inventory()
        #expect(after.changes(since: before).isEmpty, "\(after.changes(since: before))")
    }

    /// The export damages the image's header (16 bytes flipped at offset 0).
    /// The backup must not hand Plakar an image that is not valid QCOW2: the
    /// staged image is checked before it is served and that volume fails.
    @Test func corruptedStagedImageIsNotPassedOn() async throws {
        let fixture = try SimulatorFixture()
        defer { fixture.stop() }
        let before = try await fixture.inventory()
        _ = fixture.sim.faults.install(FaultRule(service: "api", method: "POST", pathContains: "export", action: .corrupt,
                                                 afterBytes: 0, count: 1))
        let plugin = try PluginProcess()
        let outcome = try await SessionDriver.backup(plugin, fixture.config())
        plugin.finish()
        #expect(fixture.sim.faults.firedCounts.values.reduce(0, +) > 0, "the corruption fault never fired")
        // Which images are valid QCOW2 (`qemu-img check`)?
        var broken: [String] = []
        for file in outcome.files where file.path.hasSuffix(".qcow2") {
            let path = fixture.directory + "/check-\(UUID().uuidString).qcow2"
            try file.bytes.write(to: URL(fileURLWithPath: path))
            if try runCommand(["qemu-img", "check", "-q", "-f", "qcow2", path]).status != 0 { broken.append(file.path) }
            try? FileManager.default.removeItem(atPath: path)
        }
        #expect(broken.isEmpty, "corrupted images passed on to Plakar as good: \(broken)")
        if broken.isEmpty {
            #expect(!outcome.errors.isEmpty, "the corruption was neither detected nor visible")
        }
        // The damaged volume's read fails naming the corruption (StagedImageCheck).
        #expect(outcome.errors.contains { $0.message.contains("is corrupt") && $0.message.contains("not passed on") },
                "no error names the corrupt staged image: \(outcome.errors.map(\.message))")
        let after = try await fixture.inventory()
        #expect(after.changes(since: before).isEmpty, "\(after.changes(since: before))")
    }
}
