import Foundation
import Synchronization

/// A levelled logger that writes whole lines to standard error.
///
/// stdout belongs to the protocol, so every diagnostic goes to stderr. Each
/// record is formatted into one buffer and written with a single `write(2)`
/// under a process-wide lock, so lines from concurrent tasks never interleave.
///
/// Levels, from the most to the least verbose:
/// - `trace`: every HTTP exchange and protocol frame (headers redacted).
/// - `debug`: decisions a developer needs to follow a run (polls, retries).
/// - `info`: milestones a user wants to see (snapshot created, export done).
/// - `warning`: something went wrong but the run goes on (a retry, a skip).
/// - `error`: the operation failed.
///
/// The threshold comes from `PLAKAR_SCALEWAY_LOG` (`trace`, `debug`, `info`,
/// `warning`, `error`, `off`), default `info`, and can be changed at start-up
/// through ``Logger/setThreshold(_:)``.
public struct Logger: Sendable {
    /// Severity of a log record.
    public enum Level: Int, Sendable, Comparable, CaseIterable, CustomStringConvertible {
        case trace = 0, debug, info, warning, error, off

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .trace: "trace"
            case .debug: "debug"
            case .info: "info"
            case .warning: "warning"
            case .error: "error"
            case .off: "off"
            }
        }

        /// Parses a level name as accepted by `PLAKAR_SCALEWAY_LOG`.
        public init?(name: String) {
            switch name.lowercased() {
            case "trace": self = .trace
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warning
            case "error": self = .error
            case "off", "none": self = .off
            default: return nil
            }
        }
    }

    /// The component name printed on each line, e.g. `rpc` or `s3`.
    public let label: String

    public init(label: String) { self.label = label }

    private static let state = Mutex<Level>(
        Level(name: ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_LOG"] ?? "") ?? .info)

    /// Sets the process-wide threshold: records below it are dropped.
    public static func setThreshold(_ level: Level) { state.withLock { $0 = level } }

    /// The current process-wide threshold.
    public static var threshold: Level { state.withLock { $0 } }

    /// Sink used by tests to capture lines instead of writing to stderr.
    nonisolated(unsafe) private static var sink: (@Sendable (String) -> Void)? = nil
    private static let writeLock = Mutex<Void>(())

    /// Redirects every record to `sink` (tests); `nil` restores stderr.
    ///
    /// Call before concurrent logging starts: the sink itself is read without
    /// a lock on the hot path.
    public static func redirect(_ newSink: (@Sendable (String) -> Void)?) {
        writeLock.withLock { _ in sink = newSink }
    }

    @inlinable public func isEnabled(_ level: Level) -> Bool { level >= Logger.threshold && level != .off }

    public func trace(_ message: @autoclosure () -> String) { log(.trace, message()) }
    public func debug(_ message: @autoclosure () -> String) { log(.debug, message()) }
    public func info(_ message: @autoclosure () -> String) { log(.info, message()) }
    public func warning(_ message: @autoclosure () -> String) { log(.warning, message()) }
    public func error(_ message: @autoclosure () -> String) { log(.error, message()) }

    /// Formats and writes one record if `level` passes the threshold.
    public func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard isEnabled(level) else { return }
        let text = message().replacingOccurrences(of: "\n", with: "\\n")
        let line = "\(Logger.timestamp()) \(level) [\(label)] \(text)\n"
        Logger.writeLock.withLock { _ in
            if let sink = Logger.sink { sink(line); return }
            var bytes = Array(line.utf8)
            bytes.withUnsafeMutableBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Foundation.write(2, raw.baseAddress! + offset, raw.count - offset)
                    if n < 0 { if errno == EINTR { continue }; return }
                    offset += n
                }
            }
        }
    }

    private static func timestamp() -> String {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = time_t(ts.tv_sec)
        var parts = tm()
        gmtime_r(&t, &parts)
        let ms = Int(ts.tv_nsec / 1_000_000)
        func pad(_ v: Int32, _ w: Int) -> String { let s = String(v); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2)).\(pad(Int32(ms), 3))Z"
    }
}
