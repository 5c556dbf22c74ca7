/// Policies shared by the Instance and Block clients.
public struct APIClientOptions: Sendable {
    /// Retries of failed calls (429, 5xx, connection errors).
    public var retry: RetryPolicy
    /// Waiting for snapshots, volumes and server actions.
    public var wait: WaitPolicy
    /// Waiting for exports to and imports from Object Storage (hours for big volumes).
    public var transferWait: WaitPolicy
    /// Waiting out `transient_state` (409) before repeating a call.
    public var transientStateWait: WaitPolicy
    /// The clock every delay is measured on (tests inject a virtual one).
    public var clock: any ScalewayClock

    public init(retry: RetryPolicy = .api, wait: WaitPolicy = .standard, transferWait: WaitPolicy = .transfer,
                transientStateWait: WaitPolicy = .transientState, clock: any ScalewayClock = SystemClock()) {
        self.retry = retry
        self.wait = wait
        self.transferWait = transferWait
        self.transientStateWait = transientStateWait
        self.clock = clock
    }
}
