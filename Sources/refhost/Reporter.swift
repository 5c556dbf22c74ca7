import Foundation
import JSONRPC
import Synchronization

/// Everything refhost tells the user: notifications and events on stderr,
/// a human summary on stderr and a one-line JSON summary on stdout.
final class Reporter: Sendable {
    struct FileError: Sendable {
        var path: String
        var message: String
    }

    private struct State {
        var files = 0
        var bytes: Int64 = 0
        var errors: [FileError] = []
        var fatal: String?
    }

    private let state = Mutex(State())
    private let start = ContinuousClock.now
    let command: String

    init(command: String) {
        self.command = command
    }

    /// Prints one line to stderr.
    func say(_ text: String) {
        FileHandle.standardError.write(Data(("refhost: " + text + "\n").utf8))
    }

    /// Shows a plugin notification.
    func notification(_ method: String, _ params: JSONValue) {
        switch method {
        case "progress":
            var text = "progress"
            if let operation = params["operation"]?.stringValue { text += " [\(operation)]" }
            if let path = params["path"]?.stringValue { text += " \(path)" }
            if let done = params["done"]?.int64Value {
                text += " \(done)"
                if let total = params["total"]?.int64Value { text += "/\(total)" }
                if let unit = params["unit"]?.stringValue { text += " \(unit)" }
            }
            if let message = params["message"]?.stringValue { text += ": \(message)" }
            say(text)
        case "log":
            say("plugin log [\(params["level"]?.stringValue ?? "?")] \(params["message"]?.stringValue ?? JSONWriter.string(params))")
        default:
            say("notification \(method) \(JSONWriter.string(params))")
        }
    }

    func fileDone(bytes: Int64) {
        state.withLock { s in
            s.files += 1
            s.bytes += bytes
        }
    }

    func fileFailed(_ path: String, _ message: String) {
        say("error: \(path): \(message)")
        state.withLock { $0.errors.append(FileError(path: path, message: message)) }
    }

    func fatal(_ message: String) {
        say("fatal: \(message)")
        state.withLock { s in if s.fatal == nil { s.fatal = message } }
    }

    var failed: Bool { state.withLock { $0.fatal != nil || !$0.errors.isEmpty } }

    /// Prints the summary; returns the exit status.
    func finish(pluginSummary: JSONValue?) -> Int32 {
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let s = state.withLock { $0 }
        let rate = seconds > 0 ? Double(s.bytes) / seconds / 1e6 : 0
        say(String(format: "%@: %d files, %lld bytes in %.3f s (%.1f MB/s), %d per-file errors%@",
                   command, s.files, s.bytes, seconds, rate, s.errors.count, s.fatal.map { ", failed: \($0)" } ?? ""))
        for error in s.errors { say("  \(error.path): \(error.message)") }
        if let pluginSummary { say("plugin summary: \(JSONWriter.string(pluginSummary))") }
        var summary: [(key: String, value: JSONValue)] = [
            ("command", .string(command)),
            ("ok", .bool(s.fatal == nil && s.errors.isEmpty)),
            ("files", .int(s.files)),
            ("bytes", .int(s.bytes)),
            ("seconds", .number(String(format: "%.6f", seconds))),
            ("mb_per_s", .number(String(format: "%.3f", rate))),
            ("errors", .array(s.errors.map { .object([("path", .string($0.path)), ("message", .string($0.message))]) })),
        ]
        if let fatal = s.fatal { summary.append(("fatal", .string(fatal))) }
        if let pluginSummary { summary.append(("plugin_summary", pluginSummary)) }
        var line = JSONWriter.bytes(.object(summary))
        line.append(0x0A)
        FileHandle.standardOutput.write(Data(line))
        return s.fatal == nil && s.errors.isEmpty ? 0 : 1
    }
}
