import Foundation

/// Reads newline-delimited messages from a file descriptor on a dedicated
/// thread, with a bounded line length.
///
/// - A line ends at `\n`; a `\r` before it is removed (CRLF hosts).
/// - Blank lines and lines of only whitespace are skipped.
/// - A line longer than `maxLineLength` bytes (without its terminator) is
///   not kept: the reader discards bytes up to its newline and reports
///   ``Event/oversized(byteCount:head:)``, then goes on with the next line.
/// - A last line without a newline before end of file is still delivered.
///
/// Lines normally go through a chunk buffer (one `read(2)` serves several
/// short lines). Once a line of 64 KiB or more has been read, a next line
/// that does not end in the chunk it starts in is read straight into an
/// array of its own sized like the last one: the data path's 1.4 MB `write`
/// lines (and, in a host, `read` answers) are then copied once, from the
/// pipe into the line, instead of twice.
public final class LineReader: @unchecked Sendable {
    // Invariant: all state is confined to the reader thread after `start`.

    /// What the reader reports, in input order, on its thread.
    public enum Event: Sendable {
        case line([UInt8])
        /// A line over the limit was skipped; `head` holds its first bytes
        /// (up to 64 KiB) so the id can be recovered.
        case oversized(byteCount: Int, head: [UInt8])
        case end
        case failed(errno: Int32)
    }

    public let fd: Int32
    public let maxLineLength: Int
    private let chunkSize: Int
    /// After a line at least this long, the next line is read straight
    /// into its own storage (see ``readLine(startingWith:expected:chunk:)``).
    let directReadThreshold: Int

    /// - Parameters:
    ///   - fd: the descriptor to read (0 for stdin).
    ///   - maxLineLength: the largest accepted line in bytes.
    ///   - chunkSize: bytes asked of each `read(2)`.
    ///   - directReadThreshold: the line length from which the next line is
    ///     read straight into its own array (tests and the fuzzer lower it
    ///     to reach that path with short lines).
    public init(fd: Int32, maxLineLength: Int, chunkSize: Int = 1 << 20, directReadThreshold: Int = 64 << 10) {
        self.fd = fd
        self.maxLineLength = maxLineLength
        self.chunkSize = chunkSize
        self.directReadThreshold = max(1, directReadThreshold)
    }

    /// Starts the reader thread; `handler` runs on it for every event and
    /// the thread ends after `.end` or `.failed`.
    public func start(_ handler: @escaping @Sendable (Event) -> Void) {
        let thread = Thread { [self] in self.run(handler) }
        thread.name = "jsonrpc-input"
        thread.start()
    }

    /// Reads until end of file on the calling thread.
    public func run(_ handler: (Event) -> Void) {
        enlargePipe(fd)
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { chunk.deallocate() }
        var pending: [UInt8] = []
        var discarding = false
        var discarded = 0
        var discardedHead: [UInt8] = []
        let headLimit = 64 << 10
        var lastLineSize = 0
        // Bytes at the start of `chunk` read with the end of a line and not
        // processed yet (the start of the next line).
        var carried = 0

        func deliver(_ line: inout [UInt8]) {
            if let last = line.last, last == UInt8(ascii: "\r") { line.removeLast() }
            if line.count > maxLineLength {
                handler(.oversized(byteCount: line.count, head: Array(line.prefix(headLimit))))
            } else if !isBlank(line) {
                handler(.line(line))
            }
        }

        /// Takes a direct read's outcome; false when the reader is done.
        func settle(_ outcome: DirectRead) -> Bool {
            switch outcome {
            case .ended(var line, let carry):
                lastLineSize = line.count
                carried = carry
                deliver(&line)
            case .full(let line):
                pending = line
            case .endOfInput(var line):
                if !line.isEmpty { deliver(&line) }
                handler(.end)
                return false
            case .failed(let code):
                handler(.failed(errno: code))
                return false
            }
            return true
        }

        while true {
            if carried == 0 && pending.isEmpty && !discarding && lastLineSize >= directReadThreshold {
                // The last line was long and its read ended with it: read the
                // next one straight into an array of its own (the data path's
                // `write` lines, and `read` answers in a host, ~1.4 MB each)
                // instead of into `chunk` and then appending: one copy of
                // every byte less.
                guard settle(readLine(startingWith: UnsafeRawBufferPointer(start: nil, count: 0),
                                      expected: lastLineSize, chunk: chunk)) else { return }
                continue
            }
            let n: Int
            if carried > 0 {
                n = carried
                carried = 0
            } else {
                n = Foundation.read(fd, chunk.baseAddress!, chunkSize)
            }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                handler(.failed(errno: errno))
                return
            }
            if n == 0 {
                if discarding {
                    handler(.oversized(byteCount: discarded, head: discardedHead))
                } else if !pending.isEmpty {
                    deliver(&pending)
                }
                handler(.end)
                return
            }
            let bytes = UnsafeRawBufferPointer(rebasing: chunk[0..<n])
            var start = 0
            while start < n {
                let rest = n - start
                let found = memchr(bytes.baseAddress! + start, 0x0A, rest)
                let segmentEnd = found.map { UnsafeRawPointer($0) - bytes.baseAddress! } ?? n
                let segment = UnsafeRawBufferPointer(rebasing: bytes[start..<segmentEnd])
                if discarding {
                    discarded += segment.count
                } else if pending.count + segment.count > maxLineLength + 1 {
                    // +1 tolerates the '\r' of a CRLF line of exactly the maximum.
                    discarding = true
                    discarded = pending.count + segment.count
                    discardedHead = Array(pending.prefix(headLimit))
                    if discardedHead.count < headLimit {
                        discardedHead.append(contentsOf: segment.prefix(headLimit - discardedHead.count))
                    }
                    pending = []
                } else if found == nil && pending.isEmpty && lastLineSize >= directReadThreshold {
                    // A long line has begun in the chunk: read its rest into
                    // its own array (as above), its start copied over.
                    guard settle(readLine(startingWith: segment, expected: lastLineSize, chunk: chunk)) else { return }
                    break
                } else {
                    pending.append(contentsOf: segment)
                }
                guard found != nil else { break }
                if discarding {
                    handler(.oversized(byteCount: discarded, head: discardedHead))
                    discarding = false
                    discarded = 0
                    discardedHead = []
                } else {
                    lastLineSize = pending.count
                    var line = pending
                    pending = []
                    deliver(&line)
                }
                start = segmentEnd + 1
            }
        }
    }

    /// How reading a line into its own storage ended.
    enum DirectRead {
        /// The newline was found; `carry` bytes read after it were moved to
        /// the start of the chunk buffer.
        case ended([UInt8], carry: Int)
        /// The line filled its storage without ending (longer than the last
        /// one): the caller goes on through the chunk buffer.
        case full([UInt8])
        /// The input ended; the bytes of an unterminated last line.
        case endOfInput([UInt8])
        /// `read(2)` failed with `errno`.
        case failed(errno: Int32)
    }

    /// Reads a line that begins with `head` (possibly empty) straight into
    /// the line's array, sized for `expected` bytes + 4 KiB (never above the
    /// maximum line length + 1), each `read(2)` at most `chunkSize` bytes.
    /// Bytes read past the newline (the next line's start) are moved to the
    /// start of `chunk`.
    ///
    /// The slack is small on purpose: the data path's lines differ by a few
    /// digits, and a few lines wait in the plugin at once (1/8 slack cost
    /// 1.5-2.5 MiB of peak RSS in a restore). A longer line fills the array
    /// and goes on through the chunk path, which grows it.
    func readLine(startingWith head: UnsafeRawBufferPointer, expected: Int,
                  chunk: UnsafeMutableRawBufferPointer) -> DirectRead {
        let capacity = min(maxLineLength + 1, max(head.count, expected + 4096))
        var newline = false
        var carry = 0
        var endOfInput = false
        var failure: Int32 = 0
        let line = [UInt8](unsafeUninitializedCapacity: capacity) { storage, initialized in
            let base = UnsafeMutableRawPointer(storage.baseAddress!)
            if let start = head.baseAddress { base.copyMemory(from: start, byteCount: head.count) }
            var filled = head.count
            while filled < capacity {
                let got = Foundation.read(fd, base + filled, min(chunkSize, capacity - filled))
                if got < 0 {
                    if errno == EINTR || errno == EAGAIN { continue }
                    failure = errno
                    break
                }
                if got == 0 {
                    endOfInput = true
                    break
                }
                if let found = memchr(base + filled, 0x0A, got) {
                    let end = UnsafeMutableRawPointer(found) - base
                    carry = filled + got - end - 1
                    chunk.baseAddress!.copyMemory(from: base + end + 1, byteCount: carry)
                    filled = end
                    newline = true
                    break
                }
                filled += got
            }
            initialized = filled
        }
        if newline { return .ended(line, carry: carry) }
        if endOfInput { return .endOfInput(line) }
        if failure != 0 { return .failed(errno: failure) }
        return .full(line)
    }

    private func isBlank(_ line: [UInt8]) -> Bool {
        for b in line {
            switch b {
            case 0x20, 0x09, 0x0D, 0x0A: continue
            default: return false
            }
        }
        return true
    }
}
