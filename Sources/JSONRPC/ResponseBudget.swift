import Synchronization

/// Bounds the bytes of responses being produced or waiting for the output.
///
/// A handler about to produce a large result reserves its size first
/// (``IncomingRequest/reserveResponseBytes(_:)``) and waits while the budget
/// is spent; the engine releases the reservation once the response line is
/// written. So when the host does not drain stdout, at most `limit` bytes of
/// responses (or one response, if a single one is larger than the whole
/// budget) are held, however many large requests are in flight. Waiters are
/// served first come, first served; a waiting task that is cancelled stops
/// waiting at once.
final class ResponseBudget: Sendable {
    private struct Waiter {
        var token: UInt64
        var count: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var used = 0
        var waiters: [Waiter] = []
        var nextToken: UInt64 = 0
    }

    /// The bytes that may be held before reservations wait.
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = limit }

    /// Bytes currently reserved.
    var reservedBytes: Int { state.withLock { $0.used } }

    /// Waits until `count` bytes fit, then holds them.
    ///
    /// - Parameter willWait: called (outside the lock) when the reservation
    ///   has to wait, with the bytes held and the number of waiters.
    /// - Throws: `CancellationError` when the calling task is cancelled
    ///   before the bytes were granted (nothing is then held).
    func acquire(_ count: Int, willWait: (_ held: Int, _ waiting: Int) -> Void = { _, _ in }) async throws {
        let token = state.withLock { s -> UInt64 in
            defer { s.nextToken += 1 }
            return s.nextToken
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Outcome { case granted, cancelled, waiting(held: Int, waiting: Int) }
                let outcome: Outcome = state.withLock { s in
                    // Checked under the lock: a cancellation either is seen
                    // here or finds the waiter registered below.
                    if Task.isCancelled { return .cancelled }
                    if s.waiters.isEmpty && Self.fits(count, s.used, limit) {
                        s.used += count
                        return .granted
                    }
                    s.waiters.append(Waiter(token: token, count: count, continuation: continuation))
                    return .waiting(held: s.used, waiting: s.waiters.count)
                }
                switch outcome {
                case .granted: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case let .waiting(held, waiting): willWait(held, waiting)
                }
            }
        } onCancel: {
            let (cancelled, granted) = state.withLock { s -> (Waiter?, [Waiter]) in
                guard let index = s.waiters.firstIndex(where: { $0.token == token }) else { return (nil, []) }
                let waiter = s.waiters.remove(at: index)
                // The head may have been the one blocking smaller requests behind it.
                return (waiter, Self.grant(&s, limit))
            }
            cancelled?.continuation.resume(throwing: CancellationError())
            for waiter in granted { waiter.continuation.resume() }
        }
    }

    /// Gives back `count` bytes and wakes the waiters that now fit.
    func release(_ count: Int) {
        guard count > 0 else { return }
        let granted = state.withLock { s -> [Waiter] in
            s.used -= count
            return Self.grant(&s, limit)
        }
        for waiter in granted { waiter.continuation.resume() }
    }

    /// One reservation always fits when nothing is held, whatever its size,
    /// so a response larger than the budget is still served (alone).
    private static func fits(_ count: Int, _ used: Int, _ limit: Int) -> Bool {
        used == 0 || used + count <= limit
    }

    private static func grant(_ s: inout State, _ limit: Int) -> [Waiter] {
        var granted: [Waiter] = []
        while let first = s.waiters.first, fits(first.count, s.used, limit) {
            s.used += first.count
            granted.append(s.waiters.removeFirst())
        }
        return granted
    }
}
