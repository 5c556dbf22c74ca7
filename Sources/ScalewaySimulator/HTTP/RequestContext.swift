import CMicroHTTPD
import Foundation

/// The server's state for one request, from its request line to the end of
/// its response. libmicrohttpd keeps it in the connection's `req_cls`.
///
/// `@unchecked Sendable` invariant: the polling thread that owns the
/// connection touches it, except while the connection is suspended, when
/// exactly one handler thread (or stall timer) does; suspension and
/// `MHD_resume_connection` order those accesses.
final class RequestContext: @unchecked Sendable {
    enum Phase {
        /// Created by the URI callback; headers not read yet.
        case new
        /// Body chunks arriving.
        case receiving
        /// Suspended while a handler runs (or a stall elapses).
        case waiting
        /// A response is ready to queue.
        case ready
        /// The response was queued.
        case done
    }

    /// The request target exactly as received, e.g. `/bucket/a%20b?uploads`.
    let rawURI: String
    var phase = Phase.new
    var connection: OpaquePointer?
    var method = ""
    var headers = HTTPHeaders()
    var remoteAddress = "127.0.0.1"
    var sink: RequestBodySink?
    var request: HTTPRequest?
    var response: HTTPResponse?
    var fault: FaultRule?
    /// A body spilled to disk: deleted when the request ends unless the
    /// handler moved it away.
    var uploadFile: String?

    init(rawURI: String) { self.rawURI = rawURI }

    /// The raw path and raw query (without `?`) of the request target.
    var rawPathAndQuery: (path: String, query: String) {
        var target = Substring(rawURI)
        // Absolute-form targets (`http://host/path`) carry the authority first.
        if target.hasPrefix("http://") || target.hasPrefix("https://") {
            let afterScheme = target[target.index(target.firstIndex(of: ":")!, offsetBy: 3)...]
            target = afterScheme.firstIndex(of: "/").map { afterScheme[$0...] } ?? "/"
        }
        if let mark = target.firstIndex(of: "?") {
            return (String(target[..<mark]), String(target[target.index(after: mark)...]))
        }
        return (String(target), "")
    }

    /// Releases what the request still holds (unconsumed upload file, placement).
    func cleanUp() {
        sink?.discard()
        sink = nil
        if let uploadFile { unlink(uploadFile) }
        uploadFile = nil
        // A placed body the handler did not commit frees its region now.
        if case let .placed(placement, _) = request?.body { placement.release() }
    }
}
