import CCurl
import Foundation
import Synchronization

/// One request's run through libcurl, on its dedicated thread.
///
/// `@unchecked Sendable` invariant: every mutable field is touched only by the
/// transfer thread while ``run()`` executes (libcurl calls the callbacks on the
/// thread that called `curl_easy_perform`). The only cross-thread state is
/// ``cancelled``, an atomic. The awaiting task reads nothing but the `Result`
/// handed to its continuation.
final class CurlTransfer: @unchecked Sendable {
    let request: HTTPRequest
    let target: RequestTarget
    let sink: ResponseSink?
    let configuration: TransportConfiguration
    let pool: CurlHandlePool

    let cancelled = Atomic<Bool>(false)

    private var handle: CurlEasyHandle?
    private var head: HTTPResponseHead?
    private var streaming = false
    private var collected: [UInt8] = []
    private var bodyBytesReceived: Int64 = 0
    private var callbackError: (any Error)?
    private var bodyReader: (any HTTPBodyReader)?
    private var bodyOffset = 0

    init(request: HTTPRequest, target: RequestTarget, sink: ResponseSink?,
         configuration: TransportConfiguration, pool: CurlHandlePool) {
        self.request = request
        self.target = target
        self.sink = sink
        self.configuration = configuration
        self.pool = pool
    }

    func cancel() { cancelled.store(true, ordering: .relaxed) }

    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }

    // MARK: Run

    /// Performs the request; blocks the calling (dedicated) thread.
    func run() -> Result<HTTPResponse, any Error> {
        if isCancelled { return .failure(cancelledError()) }
        let easy = pool.checkout(origin: target.origin)
        handle = easy
        defer {
            handle = nil
            pool.checkin(easy, origin: target.origin)
        }
        let raw = easy.raw
        curl_easy_reset(raw)

        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(ccurl_error_size()))
        errorBuffer.initialize(repeating: 0, count: Int(ccurl_error_size()))
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer {
            errorBuffer.deallocate()
            curl_slist_free_all(headerList)
        }

        do {
            if case .stream(_, let makeReader) = request.body.storage { bodyReader = try makeReader() }
            headerList = try configure(raw, errorBuffer: errorBuffer)
        } catch {
            return .failure(error)
        }

        let started = ContinuousClock.now
        let code = curl_easy_perform(raw)
        let elapsed = ContinuousClock.now - started
        bodyReader = nil

        if code != CURLE_OK {
            let failure = mapFailure(code, detail: String(cString: errorBuffer))
            Transport.logger.debug("\(request.method.rawValue) \(target.redactedURL) failed after \(elapsed): \(failure)")
            return .failure(failure)
        }
        let finalHead = head ?? readHead(raw)
        let response = HTTPResponse(head: finalHead, body: collected, bodyBytesReceived: bodyBytesReceived)
        Transport.logger.debug("\(request.method.rawValue) \(target.redactedURL) -> \(finalHead.status) "
            + "(\(bodyBytesReceived) bytes in, \(request.body.length) out, \(elapsed)\(finalHead.requestID.map { ", request id \($0)" } ?? ""))")
        if Transport.logger.isEnabled(.trace) {
            Transport.logger.trace("response headers: \(finalHead.headers.redactedDescription)")
        }
        return .success(response)
    }

    private func cancelledError() -> TransportError {
        TransportError(kind: .cancelled, message: "the transfer was cancelled", host: target.host,
                       underlying: CancellationError())
    }

    // MARK: Options

    private func configure(_ raw: UnsafeMutableRawPointer, errorBuffer: UnsafeMutablePointer<CChar>) throws
        -> UnsafeMutablePointer<curl_slist>?
    {
        func check(_ code: CURLcode, _ what: String) throws {
            guard code == CURLE_OK else {
                throw TransportError(kind: .configuration, message: "libcurl refused \(what): \(String(cString: curl_easy_strerror(code)))",
                                     curlCode: Int(code.rawValue), host: target.host, requestMayHaveBeenSent: false)
            }
        }
        let context = Unmanaged.passUnretained(self).toOpaque()
        try check(ccurl_easy_setopt_string(raw, CURLOPT_URL, request.url), "the URL")
        try check(ccurl_easy_setopt_string(raw, CURLOPT_PROTOCOLS_STR, "http,https"), "the protocol list")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_NOSIGNAL, 1), "NOSIGNAL")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_HTTP_VERSION, ccurl_http_version_1_1()), "HTTP/1.1")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_TCP_KEEPALIVE, 1), "TCP keep-alive")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_FOLLOWLOCATION, 0), "redirect policy")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_CONNECTTIMEOUT_MS, configuration.connectTimeout.milliseconds), "the connect timeout")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_LOW_SPEED_LIMIT, configuration.lowSpeedLimit), "the low-speed limit")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_LOW_SPEED_TIME, max(1, configuration.lowSpeedTime.milliseconds / 1000)), "the low-speed time")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_BUFFERSIZE, 256 << 10), "the receive buffer size")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_UPLOAD_BUFFERSIZE, 512 << 10), "the upload buffer size")
        try check(ccurl_easy_setopt_string(raw, CURLOPT_USERAGENT, configuration.userAgent), "the user agent")
        try check(ccurl_easy_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorBuffer), "the error buffer")
        try configureTLS(raw, check: check)

        // Callbacks. `self` outlives curl_easy_perform, so an unretained pointer is safe.
        try check(ccurl_easy_setopt_write_function(raw, curlWriteCallback), "the write callback")
        try check(ccurl_easy_setopt_pointer(raw, CURLOPT_WRITEDATA, context), "the write context")
        try check(ccurl_easy_setopt_xferinfo_function(raw, curlProgressCallback), "the progress callback")
        try check(ccurl_easy_setopt_pointer(raw, CURLOPT_XFERINFODATA, context), "the progress context")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_NOPROGRESS, 0), "progress reporting")

        // Method and body. Every method that can carry a body is sent as an
        // upload with an explicit length, never chunked (S3 refuses chunked
        // uploads, and Content-Length: 0 is what S3 expects on empty POSTs).
        switch request.method {
        case .get:
            try check(ccurl_easy_setopt_long(raw, CURLOPT_HTTPGET, 1), "GET")
        case .head:
            try check(ccurl_easy_setopt_long(raw, CURLOPT_NOBODY, 1), "HEAD")
        case .delete where request.body.isEmpty:
            try check(ccurl_easy_setopt_string(raw, CURLOPT_CUSTOMREQUEST, "DELETE"), "DELETE")
        default:
            try check(ccurl_easy_setopt_long(raw, CURLOPT_UPLOAD, 1), "upload mode")
            try check(ccurl_easy_setopt_off_t(raw, CURLOPT_INFILESIZE_LARGE, curl_off_t(request.body.length)), "the upload length")
            try check(ccurl_easy_setopt_read_function(raw, curlReadCallback), "the read callback")
            try check(ccurl_easy_setopt_pointer(raw, CURLOPT_READDATA, context), "the read context")
            if request.method != .put {
                try check(ccurl_easy_setopt_string(raw, CURLOPT_CUSTOMREQUEST, request.method.rawValue), request.method.rawValue)
            }
        }

        var list: UnsafeMutablePointer<curl_slist>? = nil
        func append(_ line: String) throws {
            guard let next = curl_slist_append(list, line) else {
                curl_slist_free_all(list)
                throw TransportError(kind: .configuration, message: "curl_slist_append failed: out of memory", requestMayHaveBeenSent: false)
            }
            list = next
        }
        for field in request.headers {
            // A field with an empty value is written "Name;" so libcurl sends it empty instead of removing it.
            try append(field.value.isEmpty ? "\(field.name);" : "\(field.name): \(field.value)")
        }
        // Suppress headers libcurl would add on its own: 100-continue costs a
        // round trip per part, and Accept is noise nobody signs.
        if !request.headers.contains("Expect") { try append("Expect:") }
        if !request.headers.contains("Accept") { try append("Accept:") }
        if request.method != .get && request.method != .head && !request.headers.contains("Content-Type") {
            try append("Content-Type:")
        }
        try check(ccurl_easy_setopt_slist(raw, CURLOPT_HTTPHEADER, list), "the header list")

        if Transport.logger.isEnabled(.trace) {
            Transport.logger.trace("\(request.method.rawValue) \(target.redactedURL) headers: \(request.headers.redactedDescription)")
        }
        return list
    }

    private func configureTLS(_ raw: UnsafeMutableRawPointer, check: (CURLcode, String) throws -> Void) throws {
        let tls = configuration.tls
        if tls.allowUnverifiedLoopback && target.scheme == "https" {
            // Refused rather than silently verified: a configuration that asks
            // to trust anything must not reach a public host at all.
            guard target.isLoopback else {
                throw TransportError(kind: .configuration,
                    message: "TLS verification cannot be switched off for \(target.host): skipping it is allowed for "
                        + "loopback endpoints only (127.0.0.0/8, ::1, localhost); for another host, trust its certificate "
                        + "authority with ca_file instead",
                    host: target.host, requestMayHaveBeenSent: false)
            }
            try check(ccurl_easy_setopt_long(raw, CURLOPT_SSL_VERIFYPEER, 0), "TLS verification")
            try check(ccurl_easy_setopt_long(raw, CURLOPT_SSL_VERIFYHOST, 0), "TLS host verification")
            return
        }
        try check(ccurl_easy_setopt_long(raw, CURLOPT_SSL_VERIFYPEER, 1), "TLS verification")
        try check(ccurl_easy_setopt_long(raw, CURLOPT_SSL_VERIFYHOST, 2), "TLS host verification")
        if let extra = tls.extraCAFile {
            // CAINFO replaces libcurl's built-in bundle; OpenSSL also consults
            // CAPATH, so pointing CAPATH at the system directory keeps the
            // system store trusted alongside the extra file.
            try check(ccurl_easy_setopt_string(raw, CURLOPT_CAINFO, extra), "the CA file \(extra)")
            if let systemPath = CurlGlobal.systemCAPath ?? Transport.fallbackSystemCAPath {
                try check(ccurl_easy_setopt_string(raw, CURLOPT_CAPATH, systemPath), "the system CA directory")
            }
        }
    }

    // MARK: Callbacks (transfer thread)

    fileprivate func receive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if isCancelled { return false }
        if head == nil, let handle {
            let received = readHead(handle.raw)
            head = received
            streaming = sink?.accepts(received) ?? false
        }
        bodyBytesReceived += Int64(bytes.count)
        if streaming, let sink {
            do {
                try sink.write(bytes)
            } catch {
                callbackError = error
                return false
            }
        } else {
            guard collected.count + bytes.count <= configuration.maxCollectedBodyBytes else {
                callbackError = TransportError(kind: .response,
                    message: "the response body exceeds \(configuration.maxCollectedBodyBytes) bytes; it should have been streamed",
                    host: target.host)
                return false
            }
            collected.append(contentsOf: bytes)
        }
        return true
    }

    fileprivate func send(into buffer: UnsafeMutableRawBufferPointer) -> Int? {
        if isCancelled { return nil }
        switch request.body.storage {
        case .empty:
            return 0
        case .bytes(let slice):
            let count = min(buffer.count, slice.count - bodyOffset)
            guard count > 0 else { return 0 }
            slice.withUnsafeBytes { source in
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + bodyOffset, byteCount: count)
            }
            bodyOffset += count
            return count
        case .stream:
            do {
                return try bodyReader?.read(into: buffer) ?? 0
            } catch {
                callbackError = error
                return nil
            }
        }
    }

    fileprivate func progress() -> Bool { !isCancelled }

    private func readHead(_ raw: UnsafeMutableRawPointer) -> HTTPResponseHead {
        var status = 0
        _ = ccurl_easy_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
        var headers = HTTPHeaders()
        var previous: UnsafeMutablePointer<curl_header>? = nil
        while let field = curl_easy_nextheader(raw, ccurl_header_origin_server(), -1, previous) {
            headers.add(String(cString: field.pointee.name), String(cString: field.pointee.value))
            previous = field
        }
        return HTTPResponseHead(status: status, headers: headers)
    }

    // MARK: Errors

    private func mapFailure(_ code: CURLcode, detail: String) -> any Error {
        let curlText = detail.isEmpty ? String(cString: curl_easy_strerror(code)) : detail
        let number = Int(code.rawValue)
        if isCancelled { return cancelledError() }
        if let callbackError {
            // A sink or body reader threw: surface its own error, not libcurl's echo of it.
            return callbackError
        }
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            return TransportError(kind: .connectFailed, message: "cannot connect to \(target.host): \(curlText); check the endpoint URL and the network",
                                  curlCode: number, host: target.host, requestMayHaveBeenSent: false)
        case CURLE_PEER_FAILED_VERIFICATION:
            return TransportError(kind: .certificateUntrusted,
                message: "the TLS certificate of \(target.host) is not trusted: \(curlText); "
                    + "if this endpoint uses a private CA, give its PEM file as ca_file (the system CA store stays trusted)",
                curlCode: number, host: target.host, requestMayHaveBeenSent: false)
        case CURLE_SSL_CACERT_BADFILE:
            return TransportError(kind: .tls, message: "cannot load the CA file \(configuration.tls.extraCAFile ?? "(system)"): \(curlText)",
                                  curlCode: number, host: target.host, requestMayHaveBeenSent: false)
        case CURLE_SSL_CONNECT_ERROR, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND:
            return TransportError(kind: .tls, message: "TLS handshake with \(target.host) failed: \(curlText)",
                                  curlCode: number, host: target.host, requestMayHaveBeenSent: false)
        case CURLE_OPERATION_TIMEDOUT:
            // libcurl reports both timeouts with this code; its text says which.
            return TransportError(kind: .timedOut,
                message: "no progress from \(target.host): \(curlText) (connect_timeout \(configuration.connectTimeout.milliseconds / 1000) s, "
                    + "stall_timeout \(max(1, configuration.lowSpeedTime.milliseconds / 1000)) s below \(configuration.lowSpeedLimit) bytes/s)",
                curlCode: number, host: target.host)
        case CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            return TransportError(kind: .connectionLost, message: "the connection to \(target.host) dropped: \(curlText)",
                                  curlCode: number, host: target.host)
        case CURLE_ABORTED_BY_CALLBACK:
            return cancelledError()
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            return TransportError(kind: .configuration, message: "invalid URL \(target.redactedURL): \(curlText)",
                                  curlCode: number, host: target.host, requestMayHaveBeenSent: false)
        default:
            return TransportError(kind: .other, message: "request to \(target.host) failed: \(curlText)",
                                  curlCode: number, host: target.host)
        }
    }
}

// MARK: C callbacks: recover the transfer from the context pointer and delegate.

private let curlWriteCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    data, size, count, context in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
    let length = size * count
    let ok = transfer.receive(UnsafeRawBufferPointer(start: data, count: length))
    return ok ? length : 0
}

private let curlReadCallback: @convention(c) (UnsafeMutablePointer<CChar>?, Int, Int, UnsafeMutableRawPointer?) -> Int = {
    buffer, size, count, context in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
    guard let produced = transfer.send(into: UnsafeMutableRawBufferPointer(start: buffer, count: size * count)) else {
        return ccurl_read_abort()
    }
    return produced
}

private let curlProgressCallback: @convention(c) (UnsafeMutableRawPointer?, curl_off_t, curl_off_t, curl_off_t, curl_off_t) -> Int32 = {
    context, _, _, _, _ in
    let transfer = Unmanaged<CurlTransfer>.fromOpaque(context!).takeUnretainedValue()
    return transfer.progress() ? 0 : 1
}

extension Duration {
    /// Whole milliseconds, as libcurl's `_MS` options take them.
    var milliseconds: Int {
        let parts = components
        return Int(parts.seconds) * 1000 + Int(parts.attoseconds / 1_000_000_000_000_000)
    }
}
