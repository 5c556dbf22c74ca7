import Foundation
import Synchronization

/// Runs the end of each injected stall after its delay, and all of them at
/// once when the server stops (a suspended connection must be resumed before
/// libmicrohttpd can stop).
final class StallScheduler: Sendable {
    private let queue = DispatchQueue(label: "scw-sim.http.stalls")
    private let pending = Mutex<(next: Int, actions: [Int: @Sendable () -> Void])>((0, [:]))

    /// Runs `action` once, after `seconds` or at ``fireAll()``, whichever is first.
    func schedule(after seconds: Double, _ action: @escaping @Sendable () -> Void) {
        let id = pending.withLock { state in
            let id = state.next
            state.next += 1
            state.actions[id] = action
            return id
        }
        queue.asyncAfter(deadline: .now() + max(0, seconds)) { [self] in
            if let action = take(id) { action() }
        }
    }

    /// Ends every pending stall now.
    func fireAll() {
        let actions = pending.withLock { state in
            let all = state.actions
            state.actions.removeAll()
            return all
        }
        for (_, action) in actions.sorted(by: { $0.key < $1.key }) { action() }
    }

    private func take(_ id: Int) -> (@Sendable () -> Void)? {
        pending.withLock { $0.actions.removeValue(forKey: id) }
    }
}
