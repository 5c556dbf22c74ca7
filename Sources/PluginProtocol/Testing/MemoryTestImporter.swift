import JSONRPC
import Synchronization

/// The memory-test importer (see ``MemoryTestConnectorFactory``).
final class MemoryTestImporter: Importer {
    private let settings: MemoryTestSettings
    private let notifier: any Notifier
    /// Reads served and bytes returned, for the close summary.
    private let counters = Mutex((reads: 0, bytes: Int64(0)))

    init(settings: MemoryTestSettings, notifier: any Notifier) {
        self.settings = settings
        self.notifier = notifier
    }

    func open() async throws -> OpenResult {
        try await MemoryTestSettings.pause(settings.openDelay)
        if let kind = settings.failOpen {
            throw PluginError(kind, "memory-test open configured to fail with \(kind)", hint: "remove fail_open from the config")
        }
        return OpenResult(origin: settings.origin, type: "memory-test", root: "/", flags: ["stream"])
    }

    func ping() async throws -> JSONValue { ["files": .int(settings.files.count)] }

    func list() async throws -> [ListRecord] {
        notifier.progress(Progress(operation: "list", done: 0, total: Int64(settings.files.count), unit: "files",
                                   message: "listing \(settings.files.count) files"))
        try await MemoryTestSettings.pause(settings.listDelay)
        var records = settings.files.map { file in
            ListRecord(pathname: file.path, fileInfo: FileInfo(
                name: String(file.path.split(separator: "/").last ?? ""), size: file.size, mode: 0o644,
                modTime: "2026-12-04T10:00:00Z", nlink: 1, username: "root", groupname: "root"))
        }
        if let errorPath = settings.errorPath {
            records.append(ListRecord(pathname: errorPath, error: "memory-test: configured error for \(errorPath)"))
        }
        notifier.progress(Progress(operation: "list", done: Int64(records.count), total: Int64(records.count),
                                   unit: "files", message: "listed \(records.count) records"))
        return records
    }

    func read(path: String, offset: Int64, length: Int) async throws -> ReadChunk {
        try await MemoryTestSettings.pause(settings.readDelay)
        if let slow = settings.slowRead, slow.path == path { try await MemoryTestSettings.pause(slow.delay) }
        if path == settings.internalRead { throw MemoryTestInternalError() }
        if path == settings.failRead {
            throw PluginError(.notFound, "memory-test read of \(path) configured to fail", hint: "remove fail_read from the config")
        }
        guard let file = settings.files.first(where: { $0.path == path }) else {
            throw PluginError(.notFound, "no file \(path) in the memory-test tree", hint: "read a path returned by list")
        }
        let start = min(offset, file.size)
        let end = start + min(Int64(length), file.size - start)   // no overflow near Int64.max
        let count = Int(end - start)
        // Never `unsafeUninitializedCapacity: 0`: it stores the count into the
        // shared empty-array singleton, a write ThreadSanitizer reports as a
        // race when two reads at end of file run at once.
        let bytes = count == 0 ? [] : [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            // One period of the pattern, then doubling copies: fast enough
            // that throughput measurements through this connector measure the engine.
            for i in 0..<min(26, count) { buffer[i] = MemoryTestSettings.byte(at: start + Int64(i)) }
            var filled = min(26, count)
            while filled < count {
                let n = min(filled - filled % 26, count - filled)
                (buffer.baseAddress! + filled).update(from: buffer.baseAddress!, count: n)
                filled += n
            }
            initialized = count
        }
        counters.withLock { $0.reads += 1; $0.bytes += Int64(bytes.count) }
        return ReadChunk(bytes: bytes, eof: end == file.size)
    }

    func close() async throws -> JSONValue {
        let (reads, bytes) = counters.withLock { ($0.reads, $0.bytes) }
        settings.markClosed("importer closed reads=\(reads) bytes=\(bytes)")
        return ["reads": .int(reads), "bytes": .int(bytes)]
    }
}

/// A failure that is not a ``PluginError`` (tests the -32603 path).
struct MemoryTestInternalError: Error, CustomStringConvertible {
    var description: String { "memory-test: configured internal failure" }
}
