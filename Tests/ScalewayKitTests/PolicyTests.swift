import Testing
@testable import ScalewayKit

/// Retry delays, wait loops and the part-size rule.
@Suite struct PolicyTests {
    @Test func retryDelaysGrowExponentiallyWithinJitterBounds() {
        let low = RetryPolicy(maxAttempts: 8, initialDelay: .seconds(2), maxDelay: .seconds(120), random: { 0 })
        let high = RetryPolicy(maxAttempts: 8, initialDelay: .seconds(2), maxDelay: .seconds(120), random: { 0.999999 })
        let lows = (1...8).map { low.delay(beforeRetry: $0) }
        let highs = (1...8).map { high.delay(beforeRetry: $0) }
        #expect(lows == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(60), .seconds(60)])
        #expect(highs == [.seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32), .seconds(64), .seconds(120), .seconds(120)])
        let random = RetryPolicy()
        for retry in 1...6 {
            let d = random.delay(beforeRetry: retry).components.seconds
            #expect(d >= Int64(lows[retry - 1].components.seconds) && d <= Int64(highs[retry - 1].components.seconds) + 1)
        }
    }

    @Test func waitPolicyBacksOffToItsMaximum() {
        let policy = WaitPolicy(interval: .seconds(5), backoff: 2, maxInterval: .seconds(30), timeout: .seconds(3600))
        #expect((1...5).map { policy.delay(beforePoll: $0) } == [.seconds(5), .seconds(10), .seconds(20), .seconds(30), .seconds(30)])
        #expect(WaitPolicy.standard.interval == .seconds(5))
        #expect(WaitPolicy.transfer.timeout >= .seconds(6 * 3600))
    }

    @Test func waiterPollsUntilDoneOnTheInjectedClock() async throws {
        let clock = VirtualClock()
        let states = StateSequence(["snapshotting", "snapshotting", "exporting", "available"])
        let waiter = Waiter(policy: WaitPolicy(interval: .seconds(5), backoff: 1.5, maxInterval: .seconds(30), timeout: .seconds(3600)), clock: clock)
        let result = try await waiter.wait(for: "snapshot s1", poll: { states.next() }, state: { $0 },
                                           decide: { $0 == "available" ? .done : .keepWaiting })
        #expect(result == "available")
        #expect(clock.sleeps == [.seconds(5), .milliseconds(7500), .milliseconds(11250)])
    }

    @Test func waiterFailsFastOnTerminalStateAndTimesOut() async throws {
        let clock = VirtualClock()
        let waiter = Waiter(policy: WaitPolicy(interval: .seconds(5), backoff: 1, maxInterval: .seconds(5), timeout: .seconds(60)), clock: clock)
        await #expect(throws: TestFailure.self) {
            _ = try await waiter.wait(for: "x", poll: { "error" }, state: { $0 }, decide: { _ in .fail(TestFailure("boom")) })
        }
        let error = await #expect(throws: WaitTimeoutError.self) {
            _ = try await waiter.wait(for: "snapshot s2 to be available", poll: { "exporting" }, state: { $0 }, decide: { _ in .keepWaiting })
        }
        #expect(error?.lastState == "exporting")
        #expect(error?.description.contains("still exporting after") == true)
        #expect(clock.now() <= .seconds(60))
        // Polls at 0, 5, ..., 60 s: twelve sleeps, and no sleep past the timeout.
        #expect(clock.sleeps.count == 12)
    }

    @Test func partSizeRespectsThe1000PartCap() {
        let policy = PartSizePolicy(preferredPartSize: 16 << 20)
        #expect(policy.partSize(forObjectSize: 1) == 16 << 20)
        #expect(policy.partSize(forObjectSize: 4 << 30) == 16 << 20)
        for size: Int64 in [1, 5 << 20, 16_000 << 20, 2_906_914_816, 100_000_000_000, 1_000_000_000_000, 5_000_000_000_000] {
            let part = policy.partSize(forObjectSize: size)
            #expect(part >= PartSizePolicy.minimumPartSize && part <= PartSizePolicy.maximumPartSize)
            #expect((size + part - 1) / part <= 1000, "size \(size) part \(part)")
            #expect(part >= (size + 999) / 1000)
            #expect(part % (1 << 20) == 0)
        }
        let small = PartSizePolicy(preferredPartSize: 1)
        #expect(small.preferredPartSize == PartSizePolicy.minimumPartSize)
        #expect(small.partSize(forObjectSize: 10_000_000_000) == 10 << 20)
    }

    @Test func streamingPartSizesGrowToCoverHugeStreams() {
        let policy = PartSizePolicy(preferredPartSize: 8 << 20)
        #expect(policy.partSize(forPartNumber: 1) == 8 << 20)
        #expect(policy.partSize(forPartNumber: 100) == 8 << 20)
        #expect(policy.partSize(forPartNumber: 101) == 16 << 20)
        // With the default 16 MiB, 1000 growing parts exceed the 1 TB import/export limit.
        let standard = PartSizePolicy()
        let total = (1...1000).reduce(Int64(0)) { $0 + standard.partSize(forPartNumber: $1) }
        #expect(total > 1_000_000_000_000)
        #expect((1...1000).allSatisfy { policy.partSize(forPartNumber: $0) <= PartSizePolicy.maximumPartSize })
    }

    @Test func zonesAndRegions() {
        #expect(Zone(rawValue: "fr-par-2")?.region == .frPar)
        #expect(Zone(rawValue: "it-mil-1")?.region == .itMil)
        #expect(Zone(rawValue: "fr-par-4") == nil && Zone(rawValue: "FR-PAR-1") == nil)
        #expect(Zone.all.count == 10)
        #expect(Region.plWaw.zones == [.plWaw1, .plWaw2, .plWaw3])
        #expect(ScalewayEndpoints().s3Endpoint(for: .nlAms) == "https://s3.nl-ams.scw.cloud")
        #expect(ScalewayEndpoints(apiURL: "http://127.0.0.1:1/", s3Endpoint: "http://127.0.0.1:2/").s3Endpoint(for: .frPar) == "http://127.0.0.1:2")
    }

    @Test func volumeFamilyRule() {
        #expect(VolumeFamily(volumeType: "l_ssd").api == .instance)
        #expect(VolumeFamily(volumeType: "sbs_volume").api == .block)
        #expect(VolumeFamily(volumeType: "sbs_15k").api == .block)
        #expect(VolumeFamily(volumeType: "scratch").api == nil)
        #expect(VolumeFamily(volumeType: "b_ssd").unsupportedReason?.contains("deprecated") == true)
    }
}

/// Hands out a scripted sequence of values (the last one repeats).
final class StateSequence: @unchecked Sendable {
    // @unchecked Sendable invariant: `index` is only touched under `lock`.
    private let values: [String]
    private var index = 0
    private let lock = NSLockShim()

    init(_ values: [String]) { self.values = values }

    func next() -> String {
        lock.withLock {
            defer { index += 1 }
            return values[min(index, values.count - 1)]
        }
    }
}

import Foundation
typealias NSLockShim = NSLock
