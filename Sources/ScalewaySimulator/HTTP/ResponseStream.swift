import CMicroHTTPD
import Foundation

/// Feeds a response body to libmicrohttpd through a content-reader callback
/// so that a fault can cut it: reset the connection after `afterBytes`, or
/// stall there for a while.
///
/// Normal responses never use it (files go out with sendfile).
/// `@unchecked Sendable` invariant: only the polling thread serving the
/// connection reads it; the stall timer only resumes the connection.
final class ResponseStream: @unchecked Sendable {
    private let bytes: [UInt8]
    private let descriptor: Int32
    private let fileOffset: Int64
    let length: Int64
    private let cutAt: Int64
    private let action: FaultRule.Action
    private let stallSeconds: Double
    private let connection: OpaquePointer
    private unowned let core: ServerCore
    private var stalled = false

    init(body: HTTPResponseBody, fault: FaultRule, connection: OpaquePointer, core: ServerCore) {
        switch body {
        case .none:
            bytes = []; descriptor = -1; fileOffset = 0; length = 0
        case let .bytes(b):
            bytes = b; descriptor = -1; fileOffset = 0; length = Int64(b.count)
        case let .file(path, offset, count):
            bytes = []
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
            fileOffset = offset
            length = descriptor >= 0 ? count : 0
        }
        cutAt = max(0, fault.afterBytes ?? 0)
        action = fault.action
        stallSeconds = fault.seconds ?? 5
        self.connection = connection
        self.core = core
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// The content-reader callback's work: copies up to `max` bytes at `position`.
    func read(at position: UInt64, into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        let pos = Int64(position)
        if pos >= cutAt {
            switch action {
            case .reset:
                return cmhd_content_reader_end_with_error()
            case .stall where !stalled:
                stalled = true
                if core.beginPending() {
                    MHD_suspend_connection(connection)
                    let handle = ConnectionHandle(connection)
                    let core = self.core
                    core.stalls.schedule(after: stallSeconds) {
                        MHD_resume_connection(handle.pointer)
                        core.endPending()
                    }
                    return 0
                }
            default:
                break
            }
        }
        if pos >= length { return cmhd_content_reader_end_of_stream() }
        var count = Swift.min(Int64(max), length - pos)
        if !stalled || action == .reset, cutAt > pos { count = Swift.min(count, cutAt - pos) }
        if descriptor >= 0 {
            let got = pread(descriptor, buffer, Int(count), off_t(fileOffset + pos))
            return got > 0 ? got : cmhd_content_reader_end_with_error()
        }
        bytes.withUnsafeBytes { source in
            UnsafeMutableRawPointer(buffer).copyMemory(from: source.baseAddress! + Int(pos), byteCount: Int(count))
        }
        return Int(count)
    }
}
