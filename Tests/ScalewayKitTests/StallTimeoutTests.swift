import Foundation
import Testing
@testable import ScalewayKit
import ScalewaySimulator

/// Stalled connections (the simulator's `stall` fault) end at the configured
/// low-speed timeout, and idempotent calls are then retried; a call that
/// may not be repeated blindly fails with the timeout instead.
@Suite struct StallTimeoutTests {
    /// A simulator and a session whose transport gives up after 1 s without progress.
    final class Environment: @unchecked Sendable {
        // @unchecked Sendable invariant: immutable after init.
        let directory: String
        let simulator: Simulator
        let session: ScalewaySession
        let storage: ObjectStorageClient
        let clock = VirtualClock()
        let bucket: String
        let zone: ScalewayKit.Zone

        static func start() async throws -> Environment { try await BlockingWork.run { try Environment() } }

        private init() throws {
            directory = NSTemporaryDirectory() + "stall-\(UUID().uuidString)"
            simulator = try Simulator.start(stateDirectory: directory, seed: .tiny, durations: .fast)
            let key = simulator.endpoints.keys.first { $0.name == "full-access" }!
            let retry = RetryPolicy(maxAttempts: 3, initialDelay: .milliseconds(10), random: { 0 })
            session = try ScalewaySession(
                credentials: ScalewayCredentials(accessKey: key.accessKey, secretKey: key.secretKey),
                endpoints: ScalewayEndpoints(apiURL: simulator.endpoints.apiURL, s3Endpoint: simulator.endpoints.s3Endpoint),
                transport: TransportConfiguration(connectTimeout: .seconds(5), lowSpeedTime: .seconds(1)),
                apiOptions: APIClientOptions(retry: retry, clock: clock),
                objectStorageOptions: ObjectStorageOptions(retry: retry, clock: clock))
            zone = ScalewayKit.Zone(rawValue: simulator.endpoints.zone)!
            storage = try session.objectStorage(region: zone.region)
            bucket = simulator.endpoints.bucket!
        }

        func stop() {
            let simulator = simulator, directory = directory
            Thread.detachNewThread {
                simulator.stop()  // ends the pending stalls
                try? FileManager.default.removeItem(atPath: directory)
            }
        }
    }

    @Test func stalledObjectReadsTimeOutAndAreRetried() async throws {
        let environment = try await Environment.start()
        defer { environment.stop() }
        let content = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try await environment.storage.putObject(bucket: environment.bucket, key: "stall/object.bin", bytes: content)
        // Before the response head, then in the middle of the body: 30 s each, far past the 1 s timeout.
        let beforeHead = environment.simulator.faults.install(FaultRule(service: "s3", method: "GET", pathContains: "stall/object.bin",
                                                                        action: .stall, seconds: 30, count: 1))
        let started = ContinuousClock.now
        let first = try await environment.storage.getObjectBytes(bucket: environment.bucket, key: "stall/object.bin")
        let midBody = environment.simulator.faults.install(FaultRule(service: "s3", method: "GET", pathContains: "stall/object.bin",
                                                                     action: .stall, afterBytes: 50_000, seconds: 30, count: 1))
        let second = try await environment.storage.getObjectBytes(bucket: environment.bucket, key: "stall/object.bin")
        let elapsed = ContinuousClock.now - started
        #expect(first == content && second == content)
        let fired = environment.simulator.faults.firedCounts
        #expect(fired[beforeHead.id ?? ""] == 1 && fired[midBody.id ?? ""] == 1, "\(fired)")
        // Two stalls cut by the 1 s timeout, not waited out (30 s each).
        #expect(elapsed < .seconds(25), "took \(elapsed)")
        #expect(elapsed >= .seconds(2), "the stalls ended before the timeout could fire: \(elapsed)")
        // One retry (before the head) and one resumption (mid-body), on the injected clock.
        #expect(environment.clock.sleeps.count == 2, "\(environment.clock.sleeps)")
    }

    @Test func stalledAPIReadIsRetriedButAStalledCreateIsNot() async throws {
        let environment = try await Environment.start()
        defer { environment.stop() }
        let stall = environment.simulator.faults.install(FaultRule(service: "api", method: "GET", pathContains: "/servers",
                                                                   action: .stall, seconds: 30, count: 1))
        let servers = try await environment.session.instance.listServers(zone: environment.zone)
        #expect(!servers.isEmpty)
        #expect(environment.simulator.faults.firedCounts[stall.id ?? ""] == 1)
        #expect(environment.clock.sleeps.count == 1)

        // CreateMultipartUpload may not be repeated blindly (a duplicate would be billed): the timeout surfaces.
        _ = environment.simulator.faults.install(FaultRule(service: "s3", method: "POST", pathContains: "stall/upload",
                                                           action: .stall, seconds: 30, count: nil))
        let sleepsBefore = environment.clock.sleeps.count
        let error = await #expect(throws: TransportError.self) {
            _ = try await environment.storage.createMultipartUpload(bucket: environment.bucket, key: "stall/upload.bin")
        }
        #expect(error?.kind == .timedOut && error?.isTransient == true)
        #expect(error?.description.contains("stall_timeout 1 s") == true, "\(error?.description ?? "")")
        #expect(environment.clock.sleeps.count == sleepsBefore, "a stalled CreateMultipartUpload was retried")
    }
}
