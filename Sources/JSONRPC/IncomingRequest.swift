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
        guard let range = detachedRange(field) else { return nil }
        return try line.withUnsafeBytes { raw in
            try body(UnsafeRawBufferPointer(rebasing: raw[range]))
        }
    }

    /// Where the params member `field` lies in the line, when it was detached.
    private func detachedRange(_ field: String) -> Range<Int>? {
        detached.first(where: { $0.path.count == 2 && $0.path[0] == "params" && $0.path[1] == field })?.range
    }

    /// Decodes the base64 params member `field` to bytes, straight from the
    /// line buffer when it was detached.
    ///
    /// - Throws: ``ResponseError`` -32602 naming the field when it is missing,
    ///   not a string, or not valid base64.
    public func base64Param(_ field: String) throws(ResponseError) -> [UInt8] {
        do throws(Base64Text.Invalid) {
            return try base64Text(field).decoded()
        } catch {
            throw error.response
        }
    }

    /// The base64 params member `field`, to decode into the caller's memory
    /// (see ``Base64Text``). Without a copy when the parser left the string
    /// in the line buffer.
    ///
    /// - Throws: ``Base64Text/Invalid`` naming the field when it is missing,
    ///   not a string, or its length is not a multiple of 4.
    public func base64Text(_ field: String) throws(Base64Text.Invalid) -> Base64Text {
        let name = params.qualified(field)
        if let range = detachedRange(field) {
            return try Base64Text(storage: line, range: range, field: name)
        }
        let text: String
        do throws(ResponseError) { text = try params.string(field) } catch { throw Base64Text.Invalid(response: error) }
        let utf8 = Array(text.utf8)
        return try Base64Text(storage: utf8, range: 0..<utf8.count, field: name)
    }
}
