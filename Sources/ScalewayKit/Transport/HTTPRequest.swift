/// One HTTP request as the transport sends it.
///
/// `url` must already be fully encoded (the S3 client and the SigV4 signer
/// share one encoder so that the wire path is the signed path).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    public var url: String
    public var headers: HTTPHeaders
    public var body: HTTPRequestBody

    public init(method: HTTPMethod, url: String, headers: HTTPHeaders = HTTPHeaders(), body: HTTPRequestBody = .empty) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}
