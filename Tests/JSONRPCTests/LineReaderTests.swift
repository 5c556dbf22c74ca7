import Foundation
import JSONRPC
import Testing

/// ``LineReader`` against a model of its framing rules, over a real pipe, for
/// inputs mixing long lines (read straight into their own storage once a long
/// line came before) with short, blank, CRLF, oversized and unterminated ones,
/// at several read sizes.
@Suite struct LineReaderTests {
    enum Seen: Equatable, CustomStringConvertible {
        case line([UInt8])
        case oversized(Int, head: [UInt8])
        case end

        var description: String {
            switch self {
            case .line(let bytes): "line(\(bytes.count) bytes, first \(bytes.prefix(12)))"
            case .oversized(let count, let head): "oversized(\(count), head \(head.count))"
            case .end: "end"
            }
        }
    }

    /// What the reader must report for `input`: each raw line (without its
    /// newline) over max + 1 bytes is skipped whole; otherwise one trailing
    /// `\r` goes, and a line still over max is skipped, a blank one dropped.
    static func model(_ input: [UInt8], maxLineLength: Int) -> [Seen] {
        var seen: [Seen] = []
        var pieces = input.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        if pieces.last?.isEmpty == true { pieces.removeLast() }
        for raw in pieces {
            if raw.count > maxLineLength + 1 {
                seen.append(.oversized(raw.count, head: Array(raw.prefix(64 << 10))))
                continue
            }
            var line = raw
            if line.last == 0x0D { line.removeLast() }
            if line.count > maxLineLength {
                seen.append(.oversized(line.count, head: Array(line.prefix(64 << 10))))
            } else if !line.allSatisfy({ [0x20, 0x09, 0x0D, 0x0A].contains($0) }) {
                seen.append(.line(line))
            }
        }
        seen.append(.end)
        return seen
    }

    /// Feeds `input` through a pipe to a reader with `chunkSize`, collecting its events.
    static func read(_ input: [UInt8], maxLineLength: Int, chunkSize: Int) -> [Seen] {
        var fds: [Int32] = [0, 0]
        precondition(pipe(&fds) == 0)
        let (readEnd, writeEnd) = (fds[0], fds[1])
        let writer = Thread {
            input.withUnsafeBytes { bytes in
                var offset = 0
                while offset < bytes.count {
                    let n = write(writeEnd, bytes.baseAddress! + offset, min(bytes.count - offset, 100_003))
                    if n <= 0 { break }
                    offset += n
                }
            }
            close(writeEnd)
        }
        writer.start()
        var seen: [Seen] = []
        LineReader(fd: readEnd, maxLineLength: maxLineLength, chunkSize: chunkSize).run { event in
            switch event {
            case .line(let bytes): seen.append(.line(bytes))
            case .oversized(let count, let head): seen.append(.oversized(count, head: head))
            case .end: seen.append(.end)
            case .failed(let code): Issue.record("read failed: errno \(code)")
            }
        }
        close(readEnd)
        return seen
    }

    /// A line of `count` bytes of varied printable content (no newline).
    static func filler(_ count: Int, seed: Int) -> [UInt8] {
        (0..<count).map { UInt8(0x21 + ($0 &* 31 &+ seed &* 7) % 90) }
    }

    static let maxLineLength = 300_000

    static var mixed: [UInt8] {
        var input: [UInt8] = []
        func add(_ bytes: [UInt8], _ ending: String = "\n") { input += bytes + Array(ending.utf8) }
        add(filler(100, seed: 1))
        add(filler(200_000, seed: 2))               // long: the next lines read directly
        add(filler(200_000, seed: 3))               // same size
        add(filler(250_000, seed: 4), "\r\n")       // longer than expected + slack: appended past it
        add(filler(70_000, seed: 5))                // shorter
        add(Array("   \t".utf8))                    // blank after a long line
        add(filler(12, seed: 6))                    // short after a long line
        add(filler(150_000, seed: 7))
        add(filler(Self.maxLineLength + 1, seed: 8))  // over max by one: skipped
        add(filler(Self.maxLineLength, seed: 9), "\r\n")  // exactly max with CR: kept
        add(filler(Self.maxLineLength + 1, seed: 10), "\r\n")  // over max + CR: skipped
        add(filler(400_000, seed: 11))              // far over max after a long line
        add(filler(80_000, seed: 12))
        add(filler(90_000, seed: 13))
        add([], "\n\n")                             // empty lines
        input += filler(120_000, seed: 14)          // unterminated last line
        return input
    }

    @Test(arguments: [1 << 20, 65_536, 4097, 1000])
    func mixedLinesMatchTheModel(chunkSize: Int) {
        let input = Self.mixed
        Self.expectModel(input, chunkSize: chunkSize)
    }

    /// Compares the reader's events with the model's, one by one (a short message per difference).
    static func expectModel(_ input: [UInt8], chunkSize: Int) {
        let expected = model(input, maxLineLength: maxLineLength)
        let seen = read(input, maxLineLength: maxLineLength, chunkSize: chunkSize)
        #expect(seen.count == expected.count, "chunk \(chunkSize): \(seen.count) events, expected \(expected.count)")
        for (index, (got, want)) in zip(seen, expected).enumerated() where got != want {
            Issue.record("chunk \(chunkSize), event \(index): \(got), expected \(want)")
        }
    }

    @Test func longLinesEndingAtEveryOffsetOfAReadMatchTheModel() {
        // Lines of 70,000 + k bytes with 4097-byte reads: the newline falls at
        // every offset of a read, and the next line starts anywhere in it.
        var input: [UInt8] = []
        for k in 0..<40 { input += Self.filler(70_000 + k * 37, seed: k) + [0x0A] }
        input += Array("{\"last\":1}".utf8)
        Self.expectModel(input, chunkSize: 4097)
    }

    @Test(arguments: [1 << 20, 4097])
    func inputEndingAfterALongLineMatchesTheModel(chunkSize: Int) {
        // The line after a long one is read straight into its own array from
        // its first byte: the input may end there, or in that line.
        let long = Self.filler(150_000, seed: 1) + [0x0A] + Self.filler(140_000, seed: 2) + [0x0A]
        Self.expectModel(long, chunkSize: chunkSize)
        Self.expectModel(long + Self.filler(90_000, seed: 3), chunkSize: chunkSize)
        Self.expectModel(long + Array("\r\n".utf8), chunkSize: chunkSize)
        Self.expectModel(long + Self.filler(Self.maxLineLength + 5, seed: 4), chunkSize: chunkSize)
    }
}
