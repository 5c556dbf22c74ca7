import Foundation
import JSONRPC

/// Reads one file through `read` calls into a local file.
struct FileDownloader: Sendable {
    let client: RPCClient
    let reporter: Reporter
    let chunk: Int
    let window: Int

    func download(_ entry: BackupCommand.Entry, to local: String) {
        let parent = (local as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let fd = Foundation.open(local, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            reporter.fileFailed(entry.pathname, "cannot create \(local): \(String(cString: strerror(errno)))")
            return
        }
        do {
            let bytes = try copy(entry, into: fd)
            Foundation.close(fd)
            if let text = entry.info["mod_time"]?.stringValue, let date = Timestamp.parse(text) {
                try? FileManager.default.setAttributes([.modificationDate: date], ofItemAtPath: local)
            }
            reporter.fileDone(bytes: bytes)
        } catch {
            Foundation.close(fd)
            unlink(local)
            reporter.fileFailed(entry.pathname, "\(error)")
        }
    }

    private struct Outstanding {
        var offset: Int64
        var length: Int
        var ticket: RPCClient.Ticket
    }

    /// Reads the whole file; returns its size.
    private func copy(_ entry: BackupCommand.Entry, into fd: Int32) throws -> Int64 {
        let path = entry.pathname
        var queue: [Outstanding] = []
        defer {
            // Collect answers still in flight so they are not orphaned.
            for pending in queue { _ = try? client.wait(pending.ticket, method: "read") }
        }
        var written: Int64 = 0    // bytes stored, in order
        var requested: Int64 = 0  // next offset to ask for
        var sawEOF = false
        // Where this thread's time goes once the first answer is in (before
        // it, the plugin may still be staging the file): waiting for answers
        // means the plugin is the slower side; decoding and writing the copy
        // means refhost is. Printed to stderr at the end.
        var waiting: Duration = .zero
        var storing: Duration = .zero
        let clock = ContinuousClock()
        // With a known size, read ahead up to `window` chunks; otherwise one at a time.
        let known = entry.size >= 0 ? entry.size : nil
        while !sawEOF {
            let limit = known.map { max($0, written + 1) } ?? (written + 1)
            while queue.count < (known == nil ? 1 : window), requested < limit || queue.isEmpty {
                let length = known.map { Int(min(Int64(chunk), max(1, $0 - requested))) } ?? chunk
                let id = client.nextID()
                let line = RPCClient.requestLine(id: id, method: "read",
                                                 params: ["path": .string(path), "offset": .int(requested), "length": .int(length)])
                queue.append(Outstanding(offset: requested, length: length, ticket: try client.send(id: id, line: line)))
                requested += Int64(length)
            }
            let head = queue.removeFirst()
            let waitStart = clock.now
            let response = try client.wait(head.ticket, method: "read")
            let storeStart = clock.now
            if written > 0 { waiting += storeStart - waitStart }
            defer { storing += clock.now - storeStart }
            let data = try response.base64Member(["result", "data"])
            guard let eof = response.result?["eof"]?.boolValue else {
                throw RPCError.protocolViolation("read answered without eof")
            }
            guard data.count <= head.length else {
                throw RPCError.protocolViolation("read of \(head.length) bytes at \(head.offset) returned \(data.count)")
            }
            if !data.isEmpty {
                let n = data.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(head.offset)) }
                guard n == data.count else { throw RPCError.transport("writing the local copy failed: \(String(cString: strerror(errno)))") }
            }
            written = head.offset + Int64(data.count)
            if eof {
                sawEOF = true
            } else if data.isEmpty {
                throw RPCError.protocolViolation("read at \(head.offset) returned no data without eof")
            } else if data.count < head.length {
                // A short read: reads already sent ask for later offsets; drop
                // them and go on from where this one ended.
                for pending in queue { _ = try? client.wait(pending.ticket, method: "read") }
                queue.removeAll()
                requested = written
            }
        }
        if let known, written != known {
            throw RPCError.protocolViolation("listed with size \(known) but \(written) bytes were read before eof")
        }
        if written >= 64 << 20 {
            reporter.say("read \(path): \(written) bytes; waited \(Int(waiting / .milliseconds(1))) ms for answers, "
                + "\(Int(storing / .milliseconds(1))) ms decoding and writing")
        }
        return written
    }
}
