/// How a method's requests are ordered relative to the others.
///
/// Requests are admitted in the order their lines arrive. Then:
/// - `.concurrent` requests run at once, beside each other (`read`, `list`,
///   `ping`): a slow one never holds up the others;
/// - `.serial(lane)` requests run one at a time in arrival order within
///   their lane (the chunks of `write`), concurrently with everything else;
/// - `.after(lane)` requests run concurrently with each other, but only once
///   every request of `lane` admitted before them has been answered (`read`
///   waits for a `list` sent before it);
/// - `.barrier` requests (`open`, `close`) wait until every request admitted
///   before them has been answered, and every request admitted after them
///   waits until they are answered.
///
/// Barriers are what make a whole session pipeable: `open`, `list`, `read`
/// and `close` written at once still behave as if sent one by one.
///
/// Waiting is cancellable: a request cancelled while it waits is answered
/// with the cancelled error at once.
public enum ExecutionOrder: Sendable, Equatable {
    case concurrent
    case serial(lane: String)
    case after(lane: String)
    case barrier
}
