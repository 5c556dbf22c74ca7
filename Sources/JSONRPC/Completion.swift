import Synchronization

/// A one-shot "this request has been answered" signal that later requests
/// wait on (see ``ExecutionOrder``), cancellably.
final class Completion: Sendable {
    private struct State {
        var done = false
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    /// Signals completion and releases every waiter.
    func complete() {
        let waiters = state.withLock { s in
            s.done = true
            defer { s.waiters.removeAll() }
            return Array(s.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when ``complete()`` has been called or the calling task is
    /// cancelled (the caller checks `Task.isCancelled`).
    func wait() async {
        let token = state.withLock { s -> UInt64 in
            defer { s.next += 1 }
            return s.next
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { s -> Bool in
                    if s.done || Task.isCancelled { return true }
                    s.waiters[token] = waiter
                    return false
                }
                if resumeNow { waiter.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: token) }
            waiter?.resume()
        }
    }
}
