import Foundation

/// Bounds the bytes of requests admitted but not yet answered.
///
/// The line reader acquires a request's size before dispatching it and
/// blocks while the budget is spent, so a host streaming `write` chunks
/// faster than they are stored cannot grow memory without bound. One request
/// is always admitted when nothing is in flight, whatever its size.
final class ByteBudget: @unchecked Sendable {
    // Invariant: `used` is only read or written with `condition` locked.
    private let condition = NSCondition()
    private var used = 0
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Blocks the calling (reader) thread until `count` bytes fit.
    func acquire(_ count: Int) {
        condition.lock()
        while used > 0 && used + count > limit { condition.wait() }
        used += count
        condition.unlock()
    }

    func release(_ count: Int) {
        condition.lock()
        used -= count
        condition.broadcast()
        condition.unlock()
    }
}
