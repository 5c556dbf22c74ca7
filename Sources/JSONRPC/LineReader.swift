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

    /// - Parameters:
    ///   - fd: the descriptor to read (0 for stdin).
    ///   - maxLineLength: the largest accepted line in bytes.
    ///   - chunkSize: bytes asked of each `read(2)`.
    public init(fd: Int32, maxLineLength: Int, chunkSize: Int = 1 << 20) {
        self.fd = fd
        self.maxLineLength = maxLineLength
        self.chunkSize = chunkSize
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

        func deliver(_ line: inout [UInt8]) {
            if let last = line.last, last == UInt8(ascii: "\r") { line.removeLast() }
            if line.count > maxLineLength {
                handler(.oversized(byteCount: line.count, head: Array(line.prefix(headLimit))))
            } else if !isBlank(line) {
                handler(.line(line))
            }
        }

        while true {
            let n = Foundation.read(fd, chunk.baseAddress!, chunkSize)
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
                } else {
                    if pending.isEmpty && lastLineSize > chunkSize && found == nil {
                        pending.reserveCapacity(min(lastLineSize, maxLineLength + 1))
                    }
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
