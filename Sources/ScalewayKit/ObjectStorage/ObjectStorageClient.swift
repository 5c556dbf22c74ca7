import Crypto
import Foundation
import Logging

/// Scaleway Object Storage through its S3 API, signed with SigV4.
///
/// Data never needs to fit in memory: downloads stream into a sink (and
/// resume from the last byte received after a dropped connection), uploads
/// stream from files or go through a ``MultipartUploadWriter`` that keeps
/// only a few parts in memory. Every failed multipart upload is aborted so
/// nothing is left billed. Parts carry their signed SHA-256, single PUTs
/// Content-MD5 or a signed SHA-256, and the stored length is checked after an
/// upload.
public final class ObjectStorageClient: Sendable {
    public let region: Region
    public let options: ObjectStorageOptions
    let transport: Transport
    let signer: SigV4Signer
    let endpoint: RequestTarget
    let endpointIsOverride: Bool
    static let logger = Logger(label: "s3")

    /// - Parameters:
    ///   - region: the bucket's region; also the SigV4 scope.
    ///   - endpoints: an `s3_endpoint` override switches to path-style addressing.
    /// - Throws: ``TransportError`` of kind `.configuration` for an unusable endpoint URL.
    public init(transport: Transport, credentials: ScalewayCredentials, region: Region,
                endpoints: ScalewayEndpoints = ScalewayEndpoints(), options: ObjectStorageOptions = ObjectStorageOptions()) throws {
        self.transport = transport
        self.region = region
        self.options = options
        self.signer = SigV4Signer(credentials: credentials, region: region.rawValue, service: "s3")
        self.endpoint = try RequestTarget(url: endpoints.s3Endpoint(for: region))
        self.endpointIsOverride = endpoints.s3EndpointOverride != nil
    }

    // MARK: Request pipeline

    /// One S3 call before signing.
    struct Call: Sendable {
        var method: HTTPMethod
        var bucket: String
        var key: String?
        var query: [(name: String, value: String)] = []
        var headers = HTTPHeaders()
        var body: HTTPRequestBody = .empty
        /// Precomputed `x-amz-content-sha256`; computed for small in-memory bodies when nil.
        var payloadHash: String?
        var mode: RetryMode
        var name: String
        /// The object is known to exist (this client or an export just wrote
        /// it): a 404, or a 403 AccessDenied, is retried within the
        /// propagation window (S3 read-after-write consistency).
        var recentlyWritten = false
        /// Resolve a bodiless 403 by re-asking with a signed GET (false for that GET itself).
        var diagnosesBodiless403 = true

        var operation: String { "\(name) \(bucket)\(key.map { "/\($0)" } ?? "")" }
    }

    /// Whether `bucket` is addressed in the path rather than the host name.
    func usesPathStyle(bucket: String) -> Bool {
        switch options.addressing {
        case .path: true
        case .virtualHost: false
        case .automatic: endpointIsOverride || bucket.contains(".") || bucket.lowercased() != bucket
        }
    }

    /// Builds and signs the HTTP request for `call`, dated `date` (now on ``ObjectStorageOptions/signingClock``).
    func signedRequest(_ call: Call, at date: Date? = nil) -> HTTPRequest {
        let pathStyle = usesPathStyle(bucket: call.bucket)
        let defaultPort = endpoint.scheme == "https" ? 443 : 80
        let hostPort = endpoint.port == defaultPort ? endpoint.host : "\(endpoint.host):\(endpoint.port)"
        let host = pathStyle ? hostPort : "\(call.bucket).\(hostPort)"
        let rawPath = (pathStyle ? "/\(call.bucket)" : "") + "/" + (call.key ?? "")
        let payloadHash = call.payloadHash ?? payloadHashFor(call.body)

        var headers = call.headers
        headers.set("host", host)
        let signing = SigV4Signer.Request(method: call.method.rawValue, path: rawPath, query: call.query,
                                          headers: headers, payloadHash: payloadHash)
        let signed = signer.sign(signing, at: date ?? options.signingClock())
        let query = SigV4Encoding.canonicalQueryString(call.query)
        let url = "\(endpoint.scheme)://\(host)\(SigV4Encoding.canonicalURI(rawPath))\(query.isEmpty ? "" : "?" + query)"
        return HTTPRequest(method: call.method, url: url, headers: signed, body: call.body)
    }

    private func payloadHashFor(_ body: HTTPRequestBody) -> String {
        switch body.storage {
        case .empty: return SigV4Signer.emptyPayloadHash
        case .bytes(let slice) where slice.count <= options.signedPayloadLimit: return Hex.encode(Digest.sha256(slice))
        default: return SigV4Signer.unsignedPayload
        }
    }

    /// Sends `call` with retries and returns a 2xx response; a non-2xx
    /// answer becomes an ``S3Error``.
    ///
    /// With a sink the call is attempted once for transport failures: a body
    /// already half delivered cannot be replayed
    /// (``getObject(bucket:key:range:ifMatch:recentlyWritten:into:)`` resumes instead). An
    /// error answer never reaches the sink, so propagation retries
    /// (``Call/recentlyWritten``, ``ObjectStorageOptions/freshCredentials``)
    /// apply with a sink too.
    func execute(_ call: Call, sink: ResponseSink? = nil) async throws -> HTTPResponse {
        var attempt = 1
        var propagationRetry = 1
        let started = options.clock.now()
        while true {
            try Task.checkCancellation()
            let failure: any Error
            var nothingStreamed = true
            do {
                let signedAt = options.signingClock()
                let response = try await transport.send(signedRequest(call, at: signedAt), sink: sink)
                if response.head.isSuccess { return response }
                nothingStreamed = response.bodyBytesReceived == Int64(response.body.count)
                var error = S3Error.decode(head: response.head, body: response.body, bucket: call.bucket, key: call.key,
                                           operation: call.operation, signedAt: signedAt)
                if error.isCodeInferred && error.httpStatus == 403 && !error.isClockSkew && call.diagnosesBodiless403 {
                    error = await diagnose(error, of: call)
                }
                failure = error
            } catch let error as TransportError where error.kind != .cancelled {
                failure = error
            }
            if nothingStreamed, let s3 = failure as? S3Error, mayBePropagation(s3, call),
               let delay = options.retry.propagation.nextDelay(retry: propagationRetry, elapsed: options.clock.now() - started) {
                Self.logger.info("\(call.operation): \(Self.brief(s3)) may be propagation (just written or fresh key); "
                    + "retry in \(delay) (propagation retry \(propagationRetry))")
                try await options.clock.sleep(for: delay)
                propagationRetry += 1
                continue
            }
            guard sink == nil, attempt < options.retry.maxAttempts, Self.isRetryable(failure, mode: call.mode) else { throw failure }
            let delay = options.retry.delay(beforeRetry: attempt)
            Self.logger.warning("\(call.operation) failed (\(Self.brief(failure))); retry \(attempt)/\(options.retry.maxAttempts - 1) in \(delay)")
            try await options.clock.sleep(for: delay)
            attempt += 1
        }
    }

    /// Whether `error` may be eventual consistency rather than the truth,
    /// given what the caller knows about `call`.
    func mayBePropagation(_ error: S3Error, _ call: Call) -> Bool {
        if call.recentlyWritten && (error.code == "NoSuchKey" || (error.httpStatus == 404 && call.key != nil) || error.code == "AccessDenied") {
            return true
        }
        return options.freshCredentials && (error.code == "InvalidAccessKeyId" || error.code == "AccessDenied")
    }

    /// A bodiless 403 (HEAD) does not say why. Re-asks with a cheap signed
    /// GET (GetBucketLocation on the same bucket) whose XML error does, and
    /// adopts its code when it names a cause other than a missing
    /// permission: the clock (`RequestTimeTooSkewed`) or the credentials
    /// (`SignatureDoesNotMatch`, `InvalidAccessKeyId`). Otherwise, and when
    /// the GET succeeds (the key may read the bucket but not that object),
    /// the 403 stays `AccessDenied`.
    func diagnose(_ original: S3Error, of call: Call) async -> S3Error {
        let probe = Call(method: .get, bucket: call.bucket, key: nil, query: [("location", "")], mode: .idempotent,
                         name: "GetBucketLocation", diagnosesBodiless403: false)
        do {
            _ = try await execute(probe)
            return original
        } catch let answer as S3Error where ["RequestTimeTooSkewed", "SignatureDoesNotMatch", "InvalidAccessKeyId"].contains(answer.code) {
            var resolved = original
            resolved.code = answer.code
            resolved.message = (answer.message.map { $0 + " " } ?? "") + "(found by re-asking with GetBucketLocation: the \(call.name) answer had no body)"
            resolved.isCodeInferred = false
            resolved.serverTime = answer.serverTime ?? original.serverTime
            resolved.requestTime = answer.requestTime ?? original.requestTime
            Self.logger.debug("\(call.operation): bodiless 403 diagnosed as \(answer.code)")
            return resolved
        } catch {
            return original
        }
    }

    static func isRetryable(_ error: any Error, mode: RetryMode) -> Bool {
        switch error {
        case let s3 as S3Error: s3.provesNotProcessed || (mode == .idempotent && s3.isTransient)
        case let transport as TransportError:
            transport.isTransient && (mode == .idempotent || !transport.requestMayHaveBeenSent)
        default: false
        }
    }

    static func brief(_ error: any Error) -> String {
        switch error {
        case let s3 as S3Error: "HTTP \(s3.httpStatus) \(s3.code)"
        case let transport as TransportError: transport.message
        default: "\(error)"
        }
    }

    /// Parses an XML response body, or throws.
    func document(_ response: HTTPResponse, _ call: Call) throws -> S3XMLElement {
        guard let root = S3XMLElement.parse(response.body) else {
            throw ObjectStorageIntegrityError("\(call.operation) answered a body that is not XML")
        }
        if root.name == "Error" {
            // S3 may answer 200 with an error document (CompleteMultipartUpload).
            throw S3Error.decode(head: response.head, body: response.body, bucket: call.bucket, key: call.key, operation: call.operation)
        }
        return root
    }
}
