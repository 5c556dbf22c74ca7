import Foundation
import JSONRPC
import Testing

/// The output channel's lifecycle: its writer thread ends on close and
/// later lines are dropped, never left waiting.
@Suite struct OutputChannelTests {
    @Test func closeWritesWhatIsQueuedEndsTheWriterAndDropsLaterLines() async throws {
        let pipe = Pipe()
        let channel = OutputChannel(fd: pipe.fileHandleForWriting.fileDescriptor)
        channel.enqueue(Array("a\n".utf8))
        #expect(await channel.send(Array("b\n".utf8)))
        await channel.close()
        #expect(await channel.send(Array("c\n".utf8)) == false)
        channel.enqueue(Array("d\n".utf8))
        await channel.close()   // idempotent, returns at once
        try pipe.fileHandleForWriting.close()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        #expect(String(decoding: data, as: UTF8.self) == "a\nb\n")
    }

    @Test func closeAfterTheReaderWentAwayStillEndsTheWriter() async throws {
        let pipe = Pipe()
        try pipe.fileHandleForReading.close()
        signal(SIGPIPE, SIG_IGN)
        let closed = OutputChannelClosedFlag()
        let channel = OutputChannel(fd: pipe.fileHandleForWriting.fileDescriptor) { closed.set() }
        #expect(await channel.send(Array("lost\n".utf8)) == false)
        #expect(closed.isSet)
        #expect(channel.isClosed)
        await channel.close()
        try pipe.fileHandleForWriting.close()
    }
}

/// Set once by the channel's closed handler (on its writer thread).
final class OutputChannelClosedFlag: @unchecked Sendable {
    // Invariant: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
