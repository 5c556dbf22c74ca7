/// How long, and how often, a refusal that eventual consistency can explain
/// is retried.
///
/// Object Storage and IAM are eventually consistent: an object an export
/// has just written may answer 404 (or 403, when the key may not list the
/// bucket) for a few seconds, and a freshly created API key or policy may be
/// refused for up to a couple of minutes while it propagates. Such answers
/// are retried only where the caller knows the thing exists (an object it
/// just wrote, a key it was just given): a generic 404 is never retried.
///
/// Retries stop once ``window`` has elapsed since the first attempt,
/// measured on the caller's injected ``ScalewayClock``; delays grow
/// exponentially with "equal jitter" like ``RetryPolicy``.
public struct PropagationPolicy: Sendable {
    /// How long after the first refusal the answer may still be propagation.
    public var window: Duration
    /// Delay before the first retry, before jitter.
    public var initialDelay: Duration
    /// Upper bound of any single delay.
    public var maxDelay: Duration
    /// Returns a number in [0, 1); injected by tests for deterministic jitter.
    public var random: @Sendable () -> Double

    public init(window: Duration, initialDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(5),
                random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }) {
        self.window = window
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.random = random
    }

    /// Object Storage read-after-write: 30 s, as the Terraform provider waits out a 404.
    public static let objectStorage = PropagationPolicy(window: .seconds(30), initialDelay: .milliseconds(500), maxDelay: .seconds(5))
    /// IAM propagation of a new key or policy: 2 minutes, as the Terraform provider waits out a 403.
    public static let iam = PropagationPolicy(window: .seconds(120), initialDelay: .seconds(2), maxDelay: .seconds(15))
    /// Never retry.
    public static let none = PropagationPolicy(window: .zero)

    /// The delay before propagation retry number `retry` (1 for the first).
    public func delay(beforeRetry retry: Int) -> Duration {
        var base = initialDelay.seconds
        var step = 1
        while step < retry && base < maxDelay.seconds {
            base *= 2
            step += 1
        }
        base = min(base, maxDelay.seconds)
        let jittered = base / 2 + base / 2 * min(max(random(), 0), 1)
        return .milliseconds(Int64((jittered * 1000).rounded()))
    }

    /// The delay before retry number `retry`, or nil when it would end past
    /// the window (`elapsed` is the time since the first attempt).
    public func nextDelay(retry: Int, elapsed: Duration) -> Duration? {
        let delay = delay(beforeRetry: retry)
        return elapsed + delay <= window ? delay : nil
    }
}
