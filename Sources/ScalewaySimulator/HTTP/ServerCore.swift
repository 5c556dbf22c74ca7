import CMicroHTTPD
import Crypto
import Foundation
import Logging

/// What libmicrohttpd's callbacks reach through their `cls` pointer: the
/// handler, the faults, the worker threads and the bookkeeping of suspended
/// connections.
///
/// `@unchecked Sendable` invariant: its stored properties are immutable
/// except `pendingCount` and `stopping`, which are only touched with
/// `pendingCondition` locked.
final class ServerCore: @unchecked Sendable {
    let configuration: HTTPServerConfiguration
    let handler: any HTTPHandler
    let faults: FaultInjector?
    let faultResponder: any FaultResponding
    let pool: HandlerThreadPool
    let stalls = StallScheduler()
    let logger = Logger(label: "sim.http")

    private let pendingCondition = NSCondition()
    private var pendingCount = 0
    private var stopping = false

    init(configuration: HTTPServerConfiguration, handler: any HTTPHandler, faults: FaultInjector?) {
        self.configuration = configuration
        self.handler = handler
        self.faults = faults
        self.faultResponder = (handler as? any FaultResponding) ?? ScalewayAPIFaultResponses()
        self.pool = HandlerThreadPool(threads: configuration.handlerThreads, name: "scw-sim-\(configuration.service)")
    }

    // MARK: Suspended-connection bookkeeping

    /// Registers a connection about to be suspended; `false` once stopping
    /// (the caller must then answer without suspending).
    func beginPending() -> Bool {
        pendingCondition.lock()
        defer { pendingCondition.unlock() }
        if stopping { return false }
        pendingCount += 1
        return true
    }

    /// A suspended connection was resumed.
    func endPending() {
        pendingCondition.lock()
        pendingCount -= 1
        pendingCondition.broadcast()
        pendingCondition.unlock()
    }

    /// Refuses new suspensions, ends stalls, and waits for running handlers.
    func drain() {
        pendingCondition.lock()
        stopping = true
        pendingCondition.unlock()
        stalls.fireAll()
        pendingCondition.lock()
        while pendingCount > 0 {
            pendingCondition.unlock()
            stalls.fireAll()
            pendingCondition.lock()
            if pendingCount > 0 { _ = pendingCondition.wait(until: Date().addingTimeInterval(0.05)) }
        }
        pendingCondition.unlock()
    }

    // MARK: The access handler

    func access(_ context: RequestContext, connection: OpaquePointer, method: UnsafePointer<CChar>?,
                uploadData: UnsafePointer<CChar>?, uploadSize: UnsafeMutablePointer<Int>) -> MHD_Result {
        switch context.phase {
        case .new:
            context.connection = connection
            context.method = method.map { String(cString: $0) } ?? "GET"
            let raw = Unmanaged.passUnretained(context).toOpaque()
            MHD_get_connection_values(connection, MHD_ValueKind.HEADER_KIND, headerIterator, raw)
            var peer = [CChar](repeating: 0, count: 64)
            if cmhd_connection_peer(connection, &peer, peer.count) == 0 {
                context.remoteAddress = String(decoding: peer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            let expected = context.headers["Content-Length"].flatMap { Int64($0) }
            // SHA-256 only when a signed payload hash will be checked against it.
            let signedHash = context.headers["x-amz-content-sha256"].map { $0.utf8.count == 64 } ?? false
            let hashSHA256 = signedHash || context.headers["x-amz-checksum-sha256"] != nil
            var placement: HTTPBodyPlacement?
            // Any announced length: a short last part belongs in its slot too.
            if let placing = handler as? any HTTPBodyPlacing, let expected, expected > 0 {
                let (rawPath, rawQuery) = context.rawPathAndQuery
                let head = HTTPRequest(method: context.method, rawPath: rawPath, rawQuery: rawQuery,
                                       headers: context.headers, body: .none, remoteAddress: context.remoteAddress)
                placement = placing.placement(for: head, length: expected)
            }
            context.sink = RequestBodySink(directory: configuration.uploadDirectory, expectedLength: expected,
                                           memoryLimit: configuration.inMemoryBodyLimit, hashSHA256: hashSHA256,
                                           placement: placement)
            context.phase = .receiving
            return .YES
        case .receiving:
            if uploadSize.pointee > 0 {
                context.sink?.append(UnsafeRawBufferPointer(start: uploadData, count: uploadSize.pointee))
                uploadSize.pointee = 0
                return .YES
            }
            return complete(context, connection: connection)
        case .waiting:
            return .YES
        case .ready:
            return queue(context, connection: connection)
        case .done:
            return .NO
        }
    }

    private func complete(_ context: RequestContext, connection: OpaquePointer) -> MHD_Result {
        let body: HTTPRequestBody
        let digests = context.sink?.finishDigests()
        do {
            body = try context.sink?.finish() ?? .none
        } catch {
            logger.error("cannot store the upload of \(context.method) \(context.rawPathAndQuery.path): \(error)")
            context.response = HTTPResponse(status: 500)
            context.sink = nil
            return queue(context, connection: connection)
        }
        context.sink = nil
        if case let .file(path, _) = body { context.uploadFile = path }
        let (rawPath, rawQuery) = context.rawPathAndQuery
        var request = HTTPRequest(method: context.method, rawPath: rawPath, rawQuery: rawQuery,
                                  headers: context.headers, body: body, remoteAddress: context.remoteAddress)
        request.bodyDigests = digests
        context.request = request

        let decodedPath = request.path
        if let faults, !decodedPath.hasPrefix("/_sim") {
            context.fault = faults.evaluate(service: configuration.service, method: request.method,
                                            path: decodedPath, actions: FaultInjector.transportActions)
        }
        if let fault = context.fault {
            logger.debug("fault \(fault.id ?? "?") (\(fault.action.rawValue)) on \(request.method) \(decodedPath)")
            switch fault.action {
            case .rateLimit, .status:
                context.response = faultResponder.faultResponse(for: fault, request: request,
                                                                requestID: Self.makeRequestID())
                if case let .placed(placement, _) = request.body { placement.release() }
                context.phase = .ready
                return queue(context, connection: connection)
            default:
                break
            }
        }

        guard beginPending() else {
            // Stopping: answer inline rather than suspend.
            var headers = HTTPHeaders()
            headers.set("Connection", "close")
            context.response = HTTPResponse(status: 503, headers: headers)
            return queue(context, connection: connection)
        }
        context.phase = .waiting
        MHD_suspend_connection(connection)
        if let fault = context.fault, fault.action == .stall, fault.afterBytes == nil {
            let handle = ConnectionHandle(connection)
            stalls.schedule(after: fault.seconds ?? 5) { [self] in dispatch(context, connection: handle.pointer) }
        } else {
            dispatch(context, connection: connection)
        }
        return .YES
    }

    /// Runs the handler on a worker thread, then resumes the connection.
    private func dispatch(_ context: RequestContext, connection: OpaquePointer) {
        let handler = self.handler
        let handle = ConnectionHandle(connection)
        pool.submit { [self] in
            let response: HTTPResponse
            if let request = context.request {
                response = handler.handle(request)
                // The handler committed a placed body or refused it: either
                // way its region is free for the next request from now on.
                if case let .placed(placement, _) = request.body { placement.release() }
            } else {
                response = HTTPResponse(status: 500)
            }
            context.response = response
            context.phase = .ready
            MHD_resume_connection(handle.pointer)
            endPending()
        }
    }

    private func queue(_ context: RequestContext, connection: OpaquePointer) -> MHD_Result {
        let response = context.response ?? HTTPResponse(status: 500)
        context.phase = .done
        guard let mhdResponse = makeMHDResponse(response, context: context, connection: connection) else {
            logger.error("cannot build the response to \(context.method) \(context.rawPathAndQuery.path)")
            return .NO
        }
        defer { MHD_destroy_response(mhdResponse) }
        for (name, value) in response.headers {
            let lower = name.lowercased()
            // libmicrohttpd computes these itself.
            if lower == "content-length" || lower == "transfer-encoding" || lower == "date" { continue }
            MHD_add_response_header(mhdResponse, name, value)
        }
        if logger.isEnabled(.trace) {
            logger.trace("\(configuration.service) \(context.method) \(context.rawPathAndQuery.path) -> \(response.status)")
        }
        return MHD_queue_response(connection, UInt32(response.status), mhdResponse)
    }

    private func makeMHDResponse(_ response: HTTPResponse, context: RequestContext,
                                 connection: OpaquePointer) -> OpaquePointer? {
        if let fault = context.fault, fault.action == .reset || (fault.action == .stall && fault.afterBytes != nil) {
            let stream = ResponseStream(body: response.body, fault: fault, connection: connection, core: self)
            let size = stream.length == 0 && fault.action == .reset ? cmhd_size_unknown() : UInt64(stream.length)
            return MHD_create_response_from_callback(size, 64 << 10, contentReader,
                                                     Unmanaged.passRetained(stream).toOpaque(), contentReaderFree)
        }
        switch response.body {
        case .none:
            return MHD_create_response_from_buffer(0, nil, .RESPMEM_PERSISTENT)
        case let .bytes(bytes):
            return bytes.withUnsafeBytes { buffer in
                MHD_create_response_from_buffer(buffer.count, UnsafeMutableRawPointer(mutating: buffer.baseAddress),
                                                .RESPMEM_MUST_COPY)
            }
        case let .file(path, offset, length):
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else {
                logger.error("cannot open \(path) to serve it: errno \(errno)")
                return MHD_create_response_from_buffer(0, nil, .RESPMEM_PERSISTENT)
            }
            // libmicrohttpd owns the descriptor from here and sends it with sendfile.
            guard let made = MHD_create_response_from_fd_at_offset64(UInt64(length), fd, UInt64(offset)) else {
                close(fd)
                return nil
            }
            return made
        }
    }

    /// A fresh request id, as Scaleway's (a UUID).
    static func makeRequestID() -> String { UUID().uuidString.lowercased() }
}

/// A libmicrohttpd connection pointer handed to the thread that resumes it.
/// `@unchecked Sendable` invariant: the only call made through it from
/// another thread is `MHD_resume_connection`, which is thread-safe.
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

// MARK: libmicrohttpd callbacks (C function pointers: no captures)

let headerIterator: MHD_KeyValueIterator = { cls, _, key, value in
    guard let cls, let key else { return .YES }
    let context = Unmanaged<RequestContext>.fromOpaque(cls).takeUnretainedValue()
    context.headers.add(String(cString: key), value.map { String(cString: $0) } ?? "")
    return .YES
}

let contentReader: MHD_ContentReaderCallback = { cls, position, buffer, max in
    guard let cls, let buffer else { return cmhd_content_reader_end_with_error() }
    return Unmanaged<ResponseStream>.fromOpaque(cls).takeUnretainedValue().read(at: position, into: buffer, max: max)
}

let contentReaderFree: MHD_ContentReaderFreeCallback = { cls in
    guard let cls else { return }
    Unmanaged<ResponseStream>.fromOpaque(cls).release()
}

let uriLogCallback: cmhd_uri_log_callback = { _, uri, _ in
    let context = RequestContext(rawURI: uri.map { String(cString: $0) } ?? "/")
    return Unmanaged.passRetained(context).toOpaque()
}

let requestCompletedCallback: MHD_RequestCompletedCallback = { _, _, requestClosure, _ in
    guard let requestClosure, let raw = requestClosure.pointee else { return }
    requestClosure.pointee = nil
    Unmanaged<RequestContext>.fromOpaque(raw).takeRetainedValue().cleanUp()
}

let accessHandlerCallback: MHD_AccessHandlerCallback = {
    cls, connection, url, method, _, uploadData, uploadSize, requestClosure in
    guard let cls, let connection, let uploadSize, let requestClosure else { return .NO }
    let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()
    let context: RequestContext
    if let raw = requestClosure.pointee {
        context = Unmanaged<RequestContext>.fromOpaque(raw).takeUnretainedValue()
    } else {
        context = RequestContext(rawURI: url.map { String(cString: $0) } ?? "/")
        requestClosure.pointee = Unmanaged.passRetained(context).toOpaque()
    }
    return core.access(context, connection: connection, method: method, uploadData: uploadData,
                       uploadSize: uploadSize)
}
