import Foundation
import JSONRPC
import Synchronization

/// Records every protocol line, both ways, as JSONL
/// `{"dir":"in"|"out","line":"<raw line>"}` ("in" = host to plugin), the
/// input format of `protocol/tools/validate.py`. For conformance checks and
/// debugging: it copies every data chunk, so it is off by default.
final class TrafficTrace: Sendable {
    private let fd: Int32
    private let lock = Mutex(())

    init(path: String) throws {
        fd = Foundation.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw RPCError.transport("cannot create the trace file \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { Foundation.close(fd) }

    /// Records `line` (with or without its newline) sent to (`toPlugin`) or from the plugin.
    func record(_ line: [UInt8], toPlugin: Bool) {
        var text = line
        if text.last == 0x0A { text.removeLast() }
        var out = Array("{\"dir\":\"\(toPlugin ? "in" : "out")\",\"line\":".utf8)
        JSONWriter.appendString(String(decoding: text, as: UTF8.self), to: &out)
        out.append(contentsOf: Array("}\n".utf8))
        lock.withLock { _ in
            out.withUnsafeBytes { bytes in
                var done = 0
                while done < bytes.count {
                    let n = Foundation.write(fd, bytes.baseAddress! + done, bytes.count - done)
                    if n <= 0 { if errno == EINTR { continue } else { return } }
                    done += n
                }
            }
        }
    }
}
