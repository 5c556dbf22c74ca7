import Foundation
import JSONRPC

/// `refhost restore`: open as exporter, send the directory's files one at a
/// time in walk order (parents first, names in lexical byte order), each as
/// `write` chunks with its fileinfo on the first and `eof` on the last,
/// with up to `window` chunks in flight; then close.
struct RestoreCommand {
    let options: RefhostOptions
    let reporter = Reporter(command: "restore")

    func run() -> Int32 {
        let root = options.inputDirectory!
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            reporter.fatal("\(root) is not a directory")
            return reporter.finish(pluginSummary: nil)
        }
        let session: HostSession
        do {
            session = try HostSession(options: options, reporter: reporter)
        } catch {
            reporter.fatal("\(error)")
            return reporter.finish(pluginSummary: nil)
        }
        var summary: JSONValue?
        do {
            _ = try session.open(mode: "exporter")
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: options.chunk, alignment: 16)
            defer { buffer.deallocate() }
            try walk(root, relative: "", session: session, buffer: buffer)
            summary = try session.close()
        } catch {
            reporter.fatal("\(error)")
        }
        session.end()
        return reporter.finish(pluginSummary: summary)
    }

    /// Visits `directory` (relative path `relative`, "" for the root) in order.
    private func walk(_ directory: String, relative: String, session: HostSession,
                      buffer: UnsafeMutableRawBufferPointer) throws {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        } catch {
            reporter.fileFailed(relative.isEmpty ? "/" : relative, "cannot list \(directory): \(error)")
            return
        }
        for name in names {
            let local = directory + "/" + name
            let path = relative + "/" + name
            var info = stat()
            guard lstat(local, &info) == 0 else {
                reporter.fileFailed(path, "cannot stat \(local): \(String(cString: strerror(errno)))")
                continue
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                try send(path: path, local: nil, info: info, session: session, buffer: buffer)
                try walk(local, relative: path, session: session, buffer: buffer)
            case S_IFREG:
                try send(path: path, local: local, info: info, session: session, buffer: buffer)
            default:
                reporter.say("skipping \(path): neither a regular file nor a directory")
            }
        }
    }

    /// The Plakar file info of a local file.
    private func fileInfo(name: String, _ info: stat) -> JSONValue {
        let isDirectory = info.st_mode & S_IFMT == S_IFDIR
        let mode = Int64(info.st_mode & 0o777) | (isDirectory ? Int64(1) << 31 : 0)
        let modified = Date(timeIntervalSince1970: Double(info.st_mtim.tv_sec))
        return [
            "name": .string(name),
            "size": .int(isDirectory ? 0 : Int64(info.st_size)),
            "mode": .int(mode),
            "mod_time": .string(Timestamp.format(modified)),
            "dev": .int(Int64(info.st_dev)),
            "ino": .int(Int64(info.st_ino)),
            "uid": .int(Int64(info.st_uid)),
            "gid": .int(Int64(info.st_gid)),
            "nlink": .int(Int64(info.st_nlink)),
        ]
    }

    /// Sends one record: a directory (one empty chunk) or a file's chunks.
    /// A per-file failure is reported and the walk goes on; a transport
    /// failure (plugin gone, timeout) is thrown.
    private func send(path: String, local: String?, info: stat, session: HostSession,
                      buffer: UnsafeMutableRawBufferPointer) throws {
        let client = session.client
        let name = (path as NSString).lastPathComponent
        let fileInfo = fileInfo(name: name, info)
        var fd: Int32 = -1
        if let local {
            fd = Foundation.open(local, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                reporter.fileFailed(path, "cannot open \(local): \(String(cString: strerror(errno)))")
                return
            }
        }
        defer { if fd >= 0 { Foundation.close(fd) } }
        let size = local == nil ? Int64(0) : Int64(info.st_size)

        var queue: [RPCClient.Ticket] = []
        var failure: RPCError?
        var offset: Int64 = 0
        var last: RPCResponse?
        repeat {
            let length = Int(min(Int64(buffer.count), size - offset))
            if length > 0 {
                let got = pread(fd, buffer.baseAddress, length, off_t(offset))
                guard got == length else {
                    failure = RPCError.transport("reading \(local ?? path) failed at \(offset): \(got < 0 ? String(cString: strerror(errno)) : "file shrank")")
                    break
                }
            }
            let eof = offset + Int64(length) >= size
            let id = client.nextID()
            let line = WriteRequest.line(id: id, path: path, offset: offset, eof: eof,
                                         fileInfo: offset == 0 ? fileInfo : nil,
                                         chunk: UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
            queue.append(try client.send(id: id, line: line))
            offset += Int64(length)
            if queue.count >= options.window {
                let answer = try Self.collect(queue.removeFirst(), client: client)
                if let response = answer.response { last = response }
                failure = failure ?? answer.refusal
            }
            if eof { break }
        } while failure == nil
        while !queue.isEmpty {
            let answer = try Self.collect(queue.removeFirst(), client: client)
            if let response = answer.response { last = response }
            failure = failure ?? answer.refusal
        }

        if let failure {
            reporter.fileFailed(path, failure.description)
            return
        }
        let answeredSize = last?.result?["size"]?.int64Value
        if answeredSize != size {
            reporter.fileFailed(path, "sent \(size) bytes but the plugin acknowledged \(answeredSize.map(String.init) ?? "no size")")
            return
        }
        if local != nil {
            let details = last?.result?["details"].map { " " + JSONWriter.string($0) } ?? ""
            reporter.say("restored \(path) (\(size) bytes)\(details)")
            reporter.fileDone(bytes: size)
        }
    }

    /// Waits for one chunk's answer: a refusal of the file is returned, a
    /// transport failure (plugin gone, timeout) is thrown.
    private static func collect(_ ticket: RPCClient.Ticket, client: RPCClient) throws -> (response: RPCResponse?, refusal: RPCError?) {
        do {
            return (try client.wait(ticket, method: "write"), nil)
        } catch {
            if error.code == 0 { throw error }
            return (nil, error)
        }
    }
}
