import JSONRPC
import Synchronization

/// The memory-test exporter (see ``MemoryTestConnectorFactory``): keeps
/// each file's size and FNV-1a 64 checksum.
final class MemoryTestExporter: Exporter {
    private struct OpenFile {
        var path: String
        var info: FileInfo
        var size: Int64 = 0
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    }

    private let settings: MemoryTestSettings
    private let notifier: any Notifier
    private let state = Mutex((current: OpenFile?.none, files: 0, bytes: Int64(0)))

    init(settings: MemoryTestSettings, notifier: any Notifier) {
        self.settings = settings
        self.notifier = notifier
    }

    func open() async throws -> OpenResult {
        try await MemoryTestSettings.pause(settings.openDelay)
        if let kind = settings.failOpen {
            throw PluginError(kind, "memory-test open configured to fail with \(kind)", hint: "remove fail_open from the config")
        }
        return OpenResult(origin: settings.origin, type: "memory-test", root: "/", flags: [])
    }

    func ping() async throws -> JSONValue { ["files_restored": .int(state.withLock { $0.files })] }

    func beginFile(path: String, info: FileInfo) async throws {
        state.withLock { $0.current = OpenFile(path: path, info: info) }
    }

    func writeChunk(path: String, offset: Int64, bytes: [UInt8]) async throws {
        if settings.writeDelay > .zero {
            notifier.progress(Progress(operation: "upload", path: path, done: offset, unit: "bytes",
                                       message: "writing \(bytes.count) bytes of \(path)"))
        }
        try await MemoryTestSettings.pause(settings.writeDelay)
        if path == settings.failWrite {
            throw PluginError(.io, "memory-test write of \(path) configured to fail", hint: "remove fail_write from the config")
        }
        try state.withLock { s in
            guard var file = s.current, file.path == path else {
                throw PluginError(.internal, "memory-test: chunk for \(path) without beginFile")
            }
            guard offset == file.size else {
                throw PluginError(.internal, "memory-test: chunk at \(offset), expected \(file.size)")
            }
            var hash = file.hash
            for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
            file.hash = hash
            file.size += Int64(bytes.count)
            s.current = file
        }
    }

    func finishFile(path: String) async throws -> FileOutcome {
        let file = state.withLock { s -> OpenFile? in
            let file = s.current
            s.current = nil
            if let file { s.files += 1; s.bytes += file.size }
            return file
        }
        guard let file, file.path == path else {
            return FileOutcome(path: path, error: PluginError(.internal, "memory-test: finishFile for \(path) without beginFile"))
        }
        notifier.progress(Progress(operation: "restore", path: path, done: file.size, total: file.size, unit: "bytes",
                                   message: "restored \(path)"))
        let hex = String(file.hash, radix: 16)
        return FileOutcome(path: path, details: ["bytes": .int(file.size),
                                                 "fnv1a64": .string(String(repeating: "0", count: 16 - hex.count) + hex)])
    }

    func close() async throws -> JSONValue {
        let (files, bytes) = state.withLock { ($0.files, $0.bytes) }
        settings.markClosed("exporter closed files=\(files) bytes=\(bytes)")
        return ["files": .int(files), "bytes": .int(bytes)]
    }
}
