import Foundation

/// Who holds a run lease: enough to tell, from the same machine, that the
/// holder process is gone without waiting for the lease to go stale.
///
/// A lease normally dies by not being renewed for `reclaim_after`. That
/// wait is only needed when the holder may be alive elsewhere. When the
/// reader runs on the same kernel (same boot id) and in the same PID
/// namespace, and the holder's PID no longer exists, exited (zombie), or
/// now belongs to a process started at another time (PID reuse), the
/// holder is provably dead and its leftovers can be reclaimed at once: the
/// usual case of Plakar re-running after a crash or a SIGKILL. Anything
/// unknown (other host, other container, non-Linux, unreadable /proc)
/// proves nothing and leaves the staleness rule in charge.
///
/// The hostname alone is never trusted: containers on one machine may
/// share it while seeing different processes.
struct LeaseHolder: Codable, Sendable, Equatable {
    var host: String
    var pid: Int32
    /// `/proc/sys/kernel/random/boot_id`: changes at every boot, differs between machines.
    var bootID: String?
    /// `/proc/self/ns/pid` link target, e.g. `pid:[4026531836]`.
    var pidNamespace: String?
    /// Field 22 of `/proc/<pid>/stat` (clock ticks after boot): detects PID reuse.
    var processStart: String?

    enum CodingKeys: String, CodingKey {
        case host, pid
        case bootID = "boot_id"
        case pidNamespace = "pid_namespace"
        case processStart = "process_start"
    }

    /// This process. `/proc` files are generated from kernel memory (no
    /// disk I/O), so reading them does not block a cooperative thread.
    static let current: LeaseHolder = {
        let pid = getpid()
        // gethostname, not ProcessInfo.hostName, which may resolve the name through DNS.
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count - 1) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "unknown"
        return LeaseHolder(host: host, pid: pid,
                           bootID: readTrimmed("/proc/sys/kernel/random/boot_id"),
                           pidNamespace: try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid"),
                           processStart: processStart(of: pid))
    }()

    /// True only when this holder is certainly not running any more (see the type's discussion).
    func isProvablyGone(seenFrom me: LeaseHolder = .current) -> Bool {
        guard let bootID, let pidNamespace, let processStart, bootID == me.bootID, pidNamespace == me.pidNamespace,
              pid > 0
        else { return false }
        if pid == me.pid { return processStart != me.processStart }
        guard let stat = Self.readTrimmed("/proc/\(pid)/stat") else {
            // No such process: /proc/<pid> vanishes once the process is reaped.
            return kill(pid, 0) != 0 && errno == ESRCH
        }
        let fields = Self.statFields(stat)
        if let state = fields.first, state == "Z" || state == "X" { return true }
        guard let start = Self.startTime(fields) else { return false }
        return start != processStart
    }

    private static func readTrimmed(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: path), !data.isEmpty else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The fields after the command name (which may contain spaces and parentheses):
    /// index 0 is field 3 (state).
    private static func statFields(_ stat: String) -> [Substring] {
        guard let close = stat.lastIndex(of: ")") else { return [] }
        return stat[stat.index(after: close)...].split(separator: " ")
    }

    private static func startTime(_ fields: [Substring]) -> String? {
        fields.count > 19 ? String(fields[19]) : nil
    }

    static func processStart(of pid: Int32) -> String? {
        readTrimmed("/proc/\(pid)/stat").flatMap { startTime(statFields($0)) }
    }
}
