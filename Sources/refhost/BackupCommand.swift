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
