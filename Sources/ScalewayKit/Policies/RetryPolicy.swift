/// How failed calls are retried: jittered exponential backoff.
///
/// What is retried is decided by the caller's classification (429, 5xx and
/// connection failures for idempotent calls; for a create or export POST only
/// failures that prove the request was not processed). This type only says
/// how many times and how long to wait.
public struct RetryPolicy: Sendable {
    /// Total attempts including the first (Terraform's provider: 1 + 3 retries).
    public var maxAttempts: Int
    /// Delay before the first retry, before jitter.
    public var initialDelay: Duration
    /// Upper bound of any single delay.
    public var maxDelay: Duration
    public var multiplier: Double
    /// Returns a number in [0, 1); injected by tests for deterministic jitter.
    public var random: @Sendable () -> Double
    /// Retries of refusals eventual consistency explains (an object just
    /// written answering 404, a fresh key answering 403), for the calls
    /// that declare them safe. Counted apart from ``maxAttempts``.
    public var propagation: PropagationPolicy

    public init(maxAttempts: Int = 4, initialDelay: Duration = .seconds(2), maxDelay: Duration = .seconds(120),
                multiplier: Double = 2, random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) },
                propagation: PropagationPolicy = .iam) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.multiplier = multiplier
        self.random = random
        self.propagation = propagation
    }

    /// Scaleway REST APIs: 3 retries from 2 s, capped at 2 minutes (as the
    /// Terraform provider); IAM propagation waited out for 2 minutes.
    public static let api = RetryPolicy()
    /// Object Storage: more, shorter retries (S3 SlowDown and resets are
    /// brief); read-after-write waited out for 30 s.
    public static let objectStorage = RetryPolicy(maxAttempts: 6, initialDelay: .milliseconds(500), maxDelay: .seconds(30),
                                                  propagation: .objectStorage)
    /// No retry at all.
    public static let none = RetryPolicy(maxAttempts: 1, propagation: .none)

    /// The delay before retry number `retry` (1 for the first retry):
    /// "equal jitter", half fixed and half random, so delays grow
    /// exponentially but concurrent clients do not retry in lockstep.
    public func delay(beforeRetry retry: Int) -> Duration {
        let exponent = Double(max(0, retry - 1))
        let cap = maxDelay.seconds
        let base = min(cap, initialDelay.seconds * pow(multiplier, exponent))
        let jittered = base / 2 + base / 2 * min(max(random(), 0), 1)
        return .milliseconds(Int64((jittered * 1000).rounded()))
    }
}

extension Duration {
    /// The duration in (fractional) seconds.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}

/// `pow` without Foundation.
@inline(__always) func pow(_ base: Double, _ exponent: Double) -> Double {
    var result = 1.0
    var remaining = Int(exponent)
    while remaining > 0 { result *= base; remaining -= 1 }
    return result
}
