import Foundation
import JSONRPC

/// One plugin process and its session, as the Plakar core runs it:
/// spawn, `open`, the work, `close`, end of input, wait for exit.
final class HostSession: Sendable {
    let process: PluginProcess
    let client: RPCClient
    let reporter: Reporter
    let options: RefhostOptions

    init(options: RefhostOptions, reporter: Reporter) throws {
        self.options = options
        self.reporter = reporter
        process = try PluginProcess(executable: options.plugin, arguments: options.pluginArguments)
        client = RPCClient(input: process.input, output: process.output, timeout: options.timeout) { method, params in
            reporter.notification(method, params)
        }
        client.start()
    }

    /// `open` in `mode` with the config and host options; returns the result.
    func open(mode: String) throws(RPCError) -> JSONValue {
        let config = JSONValue.object(options.config.map { (key: $0.0, value: JSONValue.string($0.1)) })
        let host: JSONValue = [
            "hostname": .string(Self.hostname()),
            "os": "linux",
            "arch": .string(Self.architecture()),
            "cwd": .string(FileManager.default.currentDirectoryPath),
            "max_concurrency": .int(options.workers),
            "excludes": [],
            "no_xattr": false,
        ]
        let params: JSONValue = [
            "protocol": .string(options.resolvedProtocol ?? ""),
            "mode": .string(mode),
            "config": config,
            "host": host,
        ]
        let result = try client.call("open", params).result ?? .null
        reporter.say("opened \(options.resolvedProtocol ?? "") \(mode): origin \(result["origin"]?.stringValue ?? "?"), type \(result["type"]?.stringValue ?? "?"), root \(result["root"]?.stringValue ?? "?"), flags \(JSONWriter.string(result["flags"] ?? .array([])))")
        return result
    }

    /// `close`; returns the plugin's summary.
    func close() throws(RPCError) -> JSONValue {
        try client.call("close", [:]).result?["summary"] ?? .null
    }

    /// Ends the plugin's input and waits for it to exit; a non-zero exit is fatal.
    func end() {
        process.closeInput()
        let (status, description) = process.waitForExit(timeout: 60)
        if status != 0 { reporter.fatal("the plugin \(description)") }
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Go's GOARCH naming, as Plakar reports it.
    static func architecture() -> String {
        #if arch(x86_64)
        return "amd64"
        #elseif arch(arm64)
        return "arm64"
        #else
        return "unknown"
        #endif
    }
}

/// RFC 3339 timestamps of file infos (control data: Foundation is fine here).
enum Timestamp {
    static func parse(_ text: String) -> Date? {
        let plain = ISO8601DateFormatter()
        if let date = plain.date(from: text) { return date }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: text)
    }

    static func format(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
