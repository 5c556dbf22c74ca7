import Foundation
import JSONRPC
import Synchronization

/// `refhost backup`: open as importer, list, read every file with N
/// concurrent workers (each file read in order, with up to `window` reads
/// in flight), write the files under the output directory, close.
struct BackupCommand {
    struct Entry: Sendable {
        var pathname: String
        var info: JSONValue
        var size: Int64
        var isDirectory: Bool
    }

    let options: RefhostOptions
    let reporter = Reporter(command: "backup")

    func run() -> Int32 {
        let outputDirectory = options.outputDirectory!
        let session: HostSession
        do {
            try FileManager.default.createDirectory(atPath: outputDirectory, withIntermediateDirectories: true)
            session = try HostSession(options: options, reporter: reporter)
        } catch {
            reporter.fatal("\(error)")
            return reporter.finish(pluginSummary: nil)
        }
        var summary: JSONValue?
        do {
            _ = try session.open(mode: "importer")
            let entries = try list(session)
            download(entries, session: session, into: outputDirectory)
            summary = try session.close()
        } catch {
            reporter.fatal("\(error)")
        }
        session.end()
        return reporter.finish(pluginSummary: summary)
    }

    /// `list`: file records to read; error records become per-file errors.
    private func list(_ session: HostSession) throws -> [Entry] {
        guard let records = try session.client.call("list", [:]).result?["records"]?.arrayValue else {
            throw RPCError.protocolViolation("list answered without a records array")
        }
        var entries: [Entry] = []
        var seen = Set<String>()
        for record in records {
            guard let path = record["pathname"]?.stringValue else {
                throw RPCError.protocolViolation("a list record has no pathname: \(JSONWriter.string(record))")
            }
            if let error = record["error"]?.stringValue {
                reporter.fileFailed(path, "listed as an error: \(error)")
                continue
            }
            guard let info = record["fileinfo"], let mode = info["mode"]?.int64Value, let size = info["size"]?.int64Value else {
                reporter.fileFailed(path, "the record has no fileinfo with mode and size")
                continue
            }
            if let problem = Self.unsafePathProblem(path) {
                reporter.fileFailed(path, "refused: \(problem)")
                continue
            }
            guard seen.insert(path).inserted else {
                reporter.fileFailed(path, "listed twice")
                continue
            }
            if mode & (1 << 27) != 0 {
                reporter.say("skipping symlink \(path) (no content to read)")
                continue
            }
            entries.append(Entry(pathname: path, info: info, size: size, isDirectory: mode & (1 << 31) != 0))
        }
        reporter.say("listed \(records.count) records: \(entries.filter { !$0.isDirectory }.count) files to read")
        return entries
    }

    /// Why `path` cannot be mapped under the output directory, if it cannot.
    static func unsafePathProblem(_ path: String) -> String? {
        guard path.hasPrefix("/") else { return "the pathname is not absolute" }
        if path.contains("\0") { return "the pathname contains NUL" }
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if path != "/" && parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) {
            return "the pathname has an empty, . or .. component"
        }
        return nil
    }

    private func download(_ entries: [Entry], session: HostSession, into directory: String) {
        for entry in entries where entry.isDirectory {
            try? FileManager.default.createDirectory(atPath: directory + entry.pathname, withIntermediateDirectories: true)
        }
        let files = entries.filter { !$0.isDirectory }
        let next = Mutex(0)
        let finished = DispatchGroup()
        for _ in 0..<min(options.workers, max(files.count, 1)) {
            finished.enter()
            Thread.detachNewThread { [options, reporter] in
                let worker = FileDownloader(client: session.client, reporter: reporter, chunk: options.chunk, window: options.window)
                while true {
                    let index = next.withLock { n in
                        defer { n += 1 }
                        return n
                    }
                    guard index < files.count else { break }
                    worker.download(files[index], to: directory + files[index].pathname)
                }
                finished.leave()
            }
        }
        finished.wait()
    }
}

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
            let response = try client.wait(head.ticket, method: "read")
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
        return written
    }
}
