/// How a waiter polls a resource until it reaches a state: the interval,
/// its backoff, and the overall timeout.
public struct WaitPolicy: Sendable {
    /// First delay between two polls.
    public var interval: Duration
    /// Each delay is multiplied by this factor...
    public var backoff: Double
    /// ...up to this maximum.
    public var maxInterval: Duration
    /// Give up after this long (the resource may still get there: the error says so).
    public var timeout: Duration

    public init(interval: Duration = .seconds(5), backoff: Double = 1.25, maxInterval: Duration = .seconds(30),
                timeout: Duration = .seconds(20 * 60)) {
        self.interval = interval
        self.backoff = backoff
        self.maxInterval = maxInterval
        self.timeout = timeout
    }

    /// Snapshots, server actions, volume creation: poll 5 s with backoff, 1 hour.
    public static let standard = WaitPolicy(timeout: .seconds(3600))
    /// Exports and imports of big volumes: poll 5 s with backoff to 60 s, 12 hours.
    public static let transfer = WaitPolicy(maxInterval: .seconds(60), timeout: .seconds(12 * 3600))
    /// Waiting out a `transient_state` before retrying a call: 5 minutes.
    public static let transientState = WaitPolicy(interval: .seconds(2), backoff: 1.5, maxInterval: .seconds(15), timeout: .seconds(300))

    /// The delay before poll number `poll` (1 for the second poll).
    public func delay(beforePoll poll: Int) -> Duration {
        var delay = interval.seconds
        var step = 1
        while step < poll && delay < maxInterval.seconds {
            delay *= backoff
            step += 1
        }
        return .milliseconds(Int64((min(delay, maxInterval.seconds) * 1000).rounded()))
    }
}
