import Foundation

/// The memory-test connector's config, parsed (see ``MemoryTestConnectorFactory``).
struct MemoryTestSettings: Sendable {
    var files: [(path: String, size: Int64)] = [("/hello.txt", 26)]
    var errorPath: String?
    var origin = "memory-test"
    var openDelay: Duration = .zero
    var listDelay: Duration = .zero
    var readDelay: Duration = .zero
    var writeDelay: Duration = .zero
    var failOpen: PluginError.Kind?
    var failRead: String?
    var failWrite: String?
    var closeMarker: String?
    var slowRead: (path: String, delay: Duration)?
    var internalRead: String?

    init(_ config: [String: String]) throws {
        func delay(_ key: String) throws -> Duration {
            guard let text = config[key] else { return .zero }
            guard let ms = Int(text), ms >= 0 else {
                throw PluginError(.config, "\(key) must be a non-negative integer of milliseconds, got \"\(text)\"", field: key)
            }
            return .milliseconds(ms)
        }
        if let spec = config["files"] {
            files = []
            for item in spec.split(separator: ",") where !item.isEmpty {
                let parts = item.split(separator: ":")
                guard parts.count == 2, parts[0].hasPrefix("/"), let size = Int64(parts[1]), size >= 0 else {
                    throw PluginError(.config, "files entry \"\(item)\" is not /path:size", hint: "e.g. files=/a.bin:1024,/b.bin:0", field: "files")
                }
                files.append((String(parts[0]), size))
            }
        }
        errorPath = config["error_path"]
        origin = config["origin"] ?? origin
        openDelay = try delay("open_delay_ms")
        listDelay = try delay("list_delay_ms")
        readDelay = try delay("read_delay_ms")
        writeDelay = try delay("write_delay_ms")
        failOpen = config["fail_open"].map(PluginError.Kind.init(rawValue:))
        failRead = config["fail_read"]
        failWrite = config["fail_write"]
        closeMarker = config["close_marker"]
        internalRead = config["internal_read"]
        if let spec = config["slow_read"] {
            let parts = spec.split(separator: ":")
            guard parts.count == 2, let ms = Int(parts[1]), ms >= 0 else {
                throw PluginError(.config, "slow_read must be /path:milliseconds, got \"\(spec)\"", field: "slow_read")
            }
            slowRead = (String(parts[0]), .milliseconds(ms))
        }
    }

    /// The pattern byte at `offset` of every file.
    static func byte(at offset: Int64) -> UInt8 { UInt8(ascii: "a") + UInt8(offset % 26) }

    /// Sleeps `duration`, throwing `cancelled` when the request is cancelled.
    static func pause(_ duration: Duration) async throws {
        guard duration > .zero else { return }
        do {
            try await Task.sleep(for: duration)
        } catch {
            throw PluginError.cancelledRequest
        }
    }

    /// Appends one line to the close marker file (tiny, test-only I/O).
    func markClosed(_ line: String) {
        guard let closeMarker else { return }
        let fd = open(closeMarker, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { return }
        defer { _ = Foundation.close(fd) }
        var bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeMutableBytes { Foundation.write(fd, $0.baseAddress!, $0.count) }
    }
}
