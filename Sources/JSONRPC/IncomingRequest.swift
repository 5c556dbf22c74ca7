/// A request as received: id, method, params, and access to the raw line
/// for strings the parser left in place (``DetachedString``).
public struct IncomingRequest: Sendable {
    public let id: RequestID
    public let method: String
    /// The params typed accessor (absent params read as an empty object).
    public let params: Params
    /// The whole line, kept so detached strings can be read without a copy.
    let line: [UInt8]
    let detached: [DetachedString]
    /// The response room this request holds; `nil` for in-memory requests.
    let reservation: ResponseReservation?

    init(id: RequestID, method: String, params: JSONValue?, line: [UInt8], detached: [DetachedString],
         reservation: ResponseReservation? = nil) {
        self.id = id
        self.method = method
        self.params = Params(params)
        self.line = line
        self.detached = detached
        self.reservation = reservation
    }

    /// A request built in memory (tests, in-process callers).
    public init(id: RequestID, method: String, params: JSONValue?) {
        self.init(id: id, method: method, params: params, line: [], detached: [])
    }

    /// Waits until the connection has room for a response of about
    /// `byteCount` bytes, and holds that room until the response is written.
    ///
    /// Call it before producing a large result (a `read`'s data). When the
    /// host does not drain the output, the connection's response budget
    /// (``JSONRPCConnection/Configuration/maxHeldResponseBytes``) is spent and
    /// this waits, so memory stays bounded however many such requests are in
    /// flight. Calling it again with a larger count waits for the difference;
    /// a response that turns out larger than reserved waits for the rest
    /// before it is queued. For a request built in memory it returns at once.
    ///
    /// - Parameter byteCount: the expected size of the response line.
    /// - Throws: `CancellationError` when the request is cancelled while waiting.
    public func reserveResponseBytes(_ byteCount: Int) async throws {
        try await reservation?.reserve(atLeast: byteCount)
    }

    /// Size of the request line in bytes.
    public var byteCount: Int { line.count }

    /// Calls `body` with the bytes of the params member `field` when the
    /// parser left that string in the line buffer; returns `nil` otherwise
    /// (then read it from ``params`` as an ordinary string).
    public func withDetachedParam<R>(_ field: String, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R? {
        guard let entry = detached.first(where: { $0.path.count == 2 && $0.path[0] == "params" && $0.path[1] == field }) else {
            return nil
        }
        return try line.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[entry.range]))
        }
    }

    /// Decodes the base64 params member `field` to bytes, straight from the
    /// line buffer when it was detached.
    ///
    /// - Throws: ``ResponseError`` -32602 naming the field when it is missing,
    ///   not a string, or not valid base64.
    public func base64Param(_ field: String) throws(ResponseError) -> [UInt8] {
        let decoded: Result<[UInt8], Base64.DecodingError>?
        decoded = withDetachedParam(field) { raw in
            do throws(Base64.DecodingError) { return .success(try Base64.decode(raw)) } catch { return .failure(error) }
        }
        let result: Result<[UInt8], Base64.DecodingError>
        if let decoded {
            result = decoded
        } else {
            let text = try params.string(field)
            do throws(Base64.DecodingError) { result = .success(try Base64.decode(text)) } catch { result = .failure(error) }
        }
        switch result {
        case let .success(bytes): return bytes
        case let .failure(error):
            throw ResponseError.invalidParams(field: params.qualified(field), "must be standard base64 with padding: \(error.message)")
        }
    }
}
