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
    /// The API key was created moments ago: `401 denied_authentication`
    /// (reason `not_found` or `invalid_argument`) and `403 permissions_denied`
    /// may be IAM propagation and are retried within
    /// ``RetryPolicy/propagation``'s window (2 minutes by default). An
    /// expired key is never retried.
    public var freshCredentials: Bool

    public init(retry: RetryPolicy = .api, wait: WaitPolicy = .standard, transferWait: WaitPolicy = .transfer,
                transientStateWait: WaitPolicy = .transientState, clock: any ScalewayClock = SystemClock(),
                freshCredentials: Bool = false) {
        self.retry = retry
        self.wait = wait
        self.transferWait = transferWait
        self.transientStateWait = transientStateWait
        self.clock = clock
        self.freshCredentials = freshCredentials
    }
}
