import Foundation

/// Case-insensitive HTTP header fields, in arrival order.
public struct HTTPHeaders: Sendable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    /// The first value of `name` (case-insensitive).
    public subscript(name: String) -> String? {
        let lower = name.lowercased()
        return fields.first(where: { $0.name.lowercased() == lower })?.value
    }

    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    /// Replaces every field called `name` with one holding `value`.
    public mutating func set(_ name: String, _ value: String) {
        let lower = name.lowercased()
        fields.removeAll { $0.name.lowercased() == lower }
        fields.append((name, value))
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }
}

/// The body of a request as the server received it.
///
/// Small bodies (API JSON) arrive in memory; large uploads are streamed by
/// the server to a file in the state directory, which the handler may move
/// into place (the server deletes it after the handler returns otherwise),
/// or written where the handler's ``HTTPBodyPlacing`` asked.
public enum HTTPRequestBody: Sendable {
    case none
    case bytes([UInt8])
    case file(path: String, size: Int64)
    /// `size` bytes written at the placement's offset of its file.
    case placed(HTTPBodyPlacement, size: Int64)

    /// The body's length in bytes.
    public var count: Int64 {
        switch self {
        case .none: 0
        case let .bytes(b): Int64(b.count)
        case let .file(_, size): size
        case let .placed(_, size): size
        }
    }

    /// Reads the whole body into memory (for small JSON bodies).
    public func readAll() throws -> [UInt8] {
        switch self {
        case .none: return []
        case let .bytes(b): return b
        case let .file(path, _): return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        case let .placed(placement, size):
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: placement.path))
            defer { try? handle.close() }
            try handle.seek(toOffset: UInt64(placement.offset))
            return Array(try handle.read(upToCount: Int(size)) ?? Data())
        }
    }
}

/// Digests of a request body, computed as it streamed in.
public struct HTTPBodyDigests: Sendable, Equatable {
    /// MD5 of the body (S3 ETags, Content-MD5).
    public var md5: [UInt8]
    /// SHA-256 of the body, computed when the request announced a signed
    /// payload hash (`x-amz-content-sha256: <hex>`) or `x-amz-checksum-sha256`.
    public var sha256: [UInt8]?

    public init(md5: [UInt8], sha256: [UInt8]?) {
        self.md5 = md5
        self.sha256 = sha256
    }
}

/// One HTTP request handed to a handler.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The request target's path exactly as received (still percent-encoded):
    /// SigV4 verification needs it verbatim.
    public var rawPath: String
    /// The raw query string without `?` (percent-encoded), possibly empty.
    public var rawQuery: String
    public var headers: HTTPHeaders
    public var body: HTTPRequestBody
    /// The peer's address, e.g. `127.0.0.1`.
    public var remoteAddress: String
    /// Digests of the body computed by the server while it arrived (so a
    /// multi-GiB upload is not read back to be hashed); `nil` when the
    /// request was not received by ``HTTPServer``.
    public var bodyDigests: HTTPBodyDigests? = nil

    public init(method: String, rawPath: String, rawQuery: String, headers: HTTPHeaders,
                body: HTTPRequestBody, remoteAddress: String = "127.0.0.1") {
        self.method = method
        self.rawPath = rawPath
        self.rawQuery = rawQuery
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The path percent-decoded (`/a%20b` -> `/a b`).
    public var path: String { rawPath.removingPercentEncoding ?? rawPath }

    /// Query items percent-decoded, in order (`+` is NOT a space in S3/SigV4).
    public var queryItems: [(name: String, value: String)] {
        guard !rawQuery.isEmpty else { return [] }
        return rawQuery.split(separator: "&", omittingEmptySubsequences: true).map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = String(parts[0]).removingPercentEncoding ?? String(parts[0])
            let value = parts.count > 1 ? (String(parts[1]).removingPercentEncoding ?? String(parts[1])) : ""
            return (name, value)
        }
    }

    /// The first value of query parameter `name`.
    public func query(_ name: String) -> String? { queryItems.first(where: { $0.name == name })?.value }
}

/// The body of a response.
public enum HTTPResponseBody: Sendable {
    case none
    case bytes([UInt8])
    /// Served from a file with sendfile (MHD_create_response_from_fd64).
    case file(path: String, offset: Int64, length: Int64)
}

/// One HTTP response produced by a handler.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPResponseBody

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: HTTPResponseBody = .none) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response from already-serialised bytes.
    public static func json(_ status: Int, _ bytes: [UInt8], headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var h = headers
        h.set("Content-Type", "application/json")
        return HTTPResponse(status: status, headers: h, body: .bytes(bytes))
    }
}

/// Something that answers HTTP requests (the S3 service, the Scaleway API,
/// the control API). Called on the server's worker threads: it must be
/// thread-safe and may block.
public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) -> HTTPResponse
}
