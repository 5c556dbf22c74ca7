import Logging
import Synchronization

/// The room one request holds in the connection's ``ResponseBudget``, from
/// its handler's ``IncomingRequest/reserveResponseBytes(_:)`` until its
/// response line is written.
final class ResponseReservation: Sendable {
    private let budget: ResponseBudget
    private let id: RequestID
    private let held = Mutex(0)
    private let logger: Logger

    init(budget: ResponseBudget, id: RequestID, logger: Logger) {
        self.budget = budget
        self.id = id
        self.logger = logger
    }

    /// The bytes this request holds.
    var heldBytes: Int { held.withLock { $0 } }

    /// Holds at least `count` bytes, waiting for the difference if needed.
    /// - Throws: `CancellationError` when the request is cancelled while waiting.
    func reserve(atLeast count: Int) async throws {
        let extra = count - heldBytes
        guard extra > 0 else { return }
        try await budget.acquire(extra) { [id, budget, logger] held, waiting in
            logger.debug("response budget full (\(held) of \(budget.limit) bytes held): request \(id) waits for \(extra) bytes (\(waiting) waiting)")
        }
        held.withLock { $0 += extra }
    }

    /// Gives everything back (the response was written or dropped).
    func releaseAll() {
        let count = held.withLock { h -> Int in
            defer { h = 0 }
            return h
        }
        budget.release(count)
    }
}
