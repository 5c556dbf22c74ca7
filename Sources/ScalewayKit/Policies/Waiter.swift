/// What a waiter does after one poll.
public enum WaitDecision: Sendable {
    /// The resource reached the awaited state.
    case done
    /// Not there yet: poll again after the policy's delay.
    case keepWaiting
    /// The resource reached a state it will not leave (e.g. `error`).
    case fail(any Error)
}

/// Polls a resource until a condition holds, with the delays of a
/// ``WaitPolicy`` measured on an injectable ``ScalewayClock``.
public struct Waiter: Sendable {
    public var policy: WaitPolicy
    public var clock: any ScalewayClock

    public init(policy: WaitPolicy = .standard, clock: any ScalewayClock = SystemClock()) {
        self.policy = policy
        self.clock = clock
    }

    /// Polls with `poll` until `decide` says done or fail, or the timeout.
    ///
    /// - Parameters:
    ///   - description: what is awaited, for the timeout error and logs ("snapshot 1234 to be available").
    ///   - poll: fetches the current value (its own errors propagate; it should retry transient ones itself).
    ///   - state: renders the value's state for the timeout error.
    ///   - decide: inspects the value.
    /// - Returns: the last value, the one `decide` accepted.
    public func wait<Value: Sendable>(
        for description: String,
        poll: () async throws -> Value,
        state: (Value) -> String,
        decide: (Value) -> WaitDecision
    ) async throws -> Value {
        let started = clock.now()
        var pollNumber = 0
        while true {
            try Task.checkCancellation()
            let value = try await poll()
            switch decide(value) {
            case .done: return value
            case .fail(let error): throw error
            case .keepWaiting: break
            }
            pollNumber += 1
            let waited = clock.now() - started
            let delay = policy.delay(beforePoll: pollNumber)
            if waited + delay > policy.timeout {
                throw WaitTimeoutError(description: description, lastState: state(value), waited: waited, timeout: policy.timeout)
            }
            try await clock.sleep(for: delay)
        }
    }
}

/// A waiter gave up: the resource did not reach the awaited state in time.
public struct WaitTimeoutError: Error, Sendable, CustomStringConvertible {
    public var description_: String
    public var lastState: String
    public var waited: Duration
    public var timeout: Duration

    public init(description: String, lastState: String, waited: Duration, timeout: Duration) {
        self.description_ = description
        self.lastState = lastState
        self.waited = waited
        self.timeout = timeout
    }

    public var description: String {
        "timed out waiting for \(description_): still \(lastState) after \(Int(waited.seconds)) s "
            + "(limit \(Int(timeout.seconds)) s). The operation may still complete on Scaleway's side; "
            + "check the resource in the console or raise the timeout"
    }
}
