/// Time as the retry and wait policies see it: a monotonic "now" and a sleep.
///
/// Production uses ``SystemClock``; tests inject a virtual clock whose sleep
/// advances time instantly, so policies measured in minutes or hours are
/// checked in microseconds.
public protocol ScalewayClock: Sendable {
    /// Monotonic time since an arbitrary origin.
    func now() -> Duration
    /// Suspends for `duration`; throws `CancellationError` when the task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The real clock: `ContinuousClock` and `Task.sleep`.
public struct SystemClock: ScalewayClock {
    private static let origin = ContinuousClock.now

    public init() {}

    public func now() -> Duration { ContinuousClock.now - SystemClock.origin }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
