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
public final class OutputChannel: @unchecked Sendable {
    // Invariant: `queue`, `closed` and `onClosed` are only touched with
    // `condition` locked; `fd` is immutable.
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
    private var onClosed: (@Sendable () -> Void)?
    private var thread: Thread?

    /// - Parameters:
    ///   - fd: the descriptor to write (1 for stdout).
    ///   - onClosed: called once, on the writer thread, when the reader of
    ///     `fd` has gone (EPIPE or another write error).
    public init(fd: Int32, onClosed: (@Sendable () -> Void)? = nil) {
        self.fd = fd
        self.onClosed = onClosed
        enlargePipe(fd)
        // The thread holds the channel for the life of the process.
        let thread = Thread { [self] in self.writeLoop() }
        thread.name = "jsonrpc-output"
        self.thread = thread
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
        if !closed {
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
            if closed {
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
    /// dropped. (A process simply exits; in-process users call this.)
    public func finish() {
        condition.lock()
        queue.append(Item(bytes: [], done: nil, stop: true))
        condition.signal()
        condition.unlock()
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
        queue.removeAll()
        head = 0
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
