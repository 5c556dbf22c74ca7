import Foundation

/// A fixed set of dedicated threads that run request handlers.
///
/// Handlers block (file I/O, hashing multi-GiB uploads, the API's locks), so
/// they run neither on libmicrohttpd's polling threads (which would stall
/// every other connection of that thread) nor on Swift's cooperative pool.
final class HandlerThreadPool: @unchecked Sendable {
    // Invariant: `jobs` and `stopping` are only touched with `condition` locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopping = false
    private var running = 0
    private var threads: [Thread] = []

    init(threads count: Int, name: String) {
        for index in 0..<max(1, count) {
            let thread = Thread { [unowned self] in self.workLoop() }
            thread.name = "\(name)-\(index)"
            thread.stackSize = 1 << 20
            threads.append(thread)
            condition.lock()
            running += 1
            condition.unlock()
            thread.start()
        }
    }

    /// Queues `job`; it runs on one of the pool's threads.
    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Runs the queued jobs, then stops the threads and waits for them.
    func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func workLoop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty && stopping {
                running -= 1
                condition.broadcast()
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
