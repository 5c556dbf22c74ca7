import Foundation

/// The single writer of protocol lines to stdout.
///
/// Lines are queued and written by one dedicated thread (blocking `write(2)`
/// never runs on Swift's cooperative pool), each whole line with one
/// `write(2)` call when the pipe takes it at once, so lines never interleave.
/// Data-path responses are sent with ``send(_:)``, which returns once the line
/// is written: that is the back-pressure that keeps memory bounded when the
/// host reads slowly. Small lines (notifications, errors) use ``enqueue(_:)``.
///
/// On EPIPE (the host closed its end) the channel drops everything queued
/// and later, and calls `onClosed` once so the connection shuts down
/// cleanly. SIGPIPE must be ignored by the process (see
/// ``JSONRPCConnection/ignoreSIGPIPE()``) for EPIPE to be seen.
///
/// Lifecycle: the writer thread runs until ``finish()`` (or ``close()``,
/// which also waits for the thread to end); lines sent after that are
/// dropped. The thread holds the channel while it runs and the channel never
/// holds the thread, so both are released once it ends.
/// ``JSONRPCConnection`` finishes its channel when it is deinitialised.
public final class OutputChannel: @unchecked Sendable {
    // Invariant: `queue`, `head`, `closed`, `stopping`, `ended`,
    // `endWaiters` and `onClosed` are only touched with `condition` locked;
    // `fd` is immutable.
    private struct Item {
        var bytes: [UInt8]
        var done: CheckedContinuation<Bool, Never>?
        var stop = false
    }

    private let fd: Int32
    private let condition = NSCondition()
    private var queue: [Item] = []
    private var head = 0
    private var closed = false
    /// ``finish()`` was called: no line is accepted any more.
    private var stopping = false
    /// The writer thread has left its loop.
    private var ended = false
    private var endWaiters: [CheckedContinuation<Void, Never>] = []
    private var onClosed: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - fd: the descriptor to write (1 for stdout).
    ///   - onClosed: called once, on the writer thread, when the reader of
    ///     `fd` has gone (EPIPE or another write error).
    public init(fd: Int32, onClosed: (@Sendable () -> Void)? = nil) {
        self.fd = fd
        self.onClosed = onClosed
        enlargePipe(fd)
        // The thread holds the channel until finish() ends its loop; the
        // channel keeps no reference to the thread, so nothing cycles.
        let thread = Thread { [self] in
            self.writeLoop()
            self.didEnd()
        }
        thread.name = "jsonrpc-output"
        thread.start()
    }

    /// Sets the closed handler (before traffic starts).
    public func setOnClosed(_ handler: @escaping @Sendable () -> Void) {
        condition.lock()
        onClosed = handler
        condition.unlock()
    }

    /// Queues one whole line (ending in `\n`) without waiting.
    public func enqueue(_ line: [UInt8]) {
        condition.lock()
        if !closed && !stopping {
            queue.append(Item(bytes: line, done: nil))
            condition.signal()
        }
        condition.unlock()
    }

    /// Queues one whole line and waits until it is written.
    /// - Returns: `false` when the output is closed and the line was dropped.
    @discardableResult
    public func send(_ line: [UInt8]) async -> Bool {
        await withCheckedContinuation { (done: CheckedContinuation<Bool, Never>) in
            condition.lock()
            if closed || stopping {
                condition.unlock()
                done.resume(returning: false)
                return
            }
            queue.append(Item(bytes: line, done: done))
            condition.signal()
            condition.unlock()
        }
    }

    /// Waits until every line queued before this call is written.
    public func flush() async { await send([]) }

    /// Writes what is queued, then ends the writer thread; later lines are
    /// dropped. Returns at once (idempotent); ``close()`` also waits.
    public func finish() {
        condition.lock()
        if !stopping {
            stopping = true
            queue.append(Item(bytes: [], done: nil, stop: true))
            condition.signal()
        }
        condition.unlock()
    }

    /// Writes what is queued, ends the writer thread and waits until it has
    /// left its loop. Later lines are dropped. If the reader of `fd` never
    /// drains it, this waits until that reader goes away (EPIPE).
    public func close() async {
        finish()
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            condition.lock()
            if ended {
                condition.unlock()
                done.resume()
                return
            }
            endWaiters.append(done)
            condition.unlock()
        }
    }

    /// Whether the output has been found closed.
    public var isClosed: Bool {
        condition.lock()
        defer { condition.unlock() }
        return closed
    }

    private func writeLoop() {
        while true {
            condition.lock()
            while head == queue.count { condition.wait() }
            let item = queue[head]
            queue[head] = Item(bytes: [], done: nil)
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            let alreadyClosed = closed
            if item.stop { closed = true }
            condition.unlock()
            if item.stop { return }

            let ok = alreadyClosed ? false : writeAll(item.bytes)
            if !ok && !alreadyClosed { markClosed() }
            item.done?.resume(returning: ok)
        }
    }

    private func didEnd() {
        condition.lock()
        ended = true
        let waiters = endWaiters
        endWaiters = []
        condition.unlock()
        for waiter in waiters { waiter.resume() }
    }

    private func writeAll(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }

    private func markClosed() {
        condition.lock()
        closed = true
        let pending = queue[head...].compactMap(\.done)
        let stopQueued = queue[head...].contains { $0.stop }
        queue.removeAll()
        head = 0
        // Keep a pending finish() so the writer thread still ends.
        if stopQueued { queue.append(Item(bytes: [], done: nil, stop: true)) }
        let handler = onClosed
        onClosed = nil
        condition.unlock()
        for done in pending { done.resume(returning: false) }
        handler?()
    }
}

/// Asks Linux for a 1 MiB pipe buffer (default 64 KiB) so large frames move
/// in fewer system calls. Harmless when `fd` is not a pipe.
func enlargePipe(_ fd: Int32) {
    #if os(Linux)
    let F_SETPIPE_SZ: Int32 = 1031
    _ = fcntl(fd, F_SETPIPE_SZ, Int32(1 << 20))
    #endif
}
