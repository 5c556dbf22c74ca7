import Crypto
import Foundation
import Synchronization

extension ObjectStorageClient {
    // MARK: Buckets

    /// Whether the bucket exists and the key may read it (HEAD bucket).
    /// Throws for errors other than 404 (e.g. 403: no permission, or 301: another region).
    public func bucketExists(_ bucket: String) async throws -> Bool {
        do {
            _ = try await execute(Call(method: .head, bucket: bucket, key: nil, mode: .idempotent, name: "HeadBucket"))
            return true
        } catch let error as S3Error where error.httpStatus == 404 {
            return false
        }
    }

    /// The bucket's region as GetBucketLocation reports it (`nil` when the server leaves it empty).
    public func bucketLocation(_ bucket: String) async throws -> String? {
        let call = Call(method: .get, bucket: bucket, key: nil, query: [("location", "")], mode: .idempotent, name: "GetBucketLocation")
        let root = try document(try await execute(call), call)
        let text = root.text.trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    // MARK: Read

    /// HEAD: the object's size, ETag and type. Throws ``S3Error`` `NoSuchKey` when absent.
    ///
    /// - Parameter recentlyWritten: the object is known to exist (just
    ///   written, by this client or an export): a 404 or 403 is retried within
    ///   ``RetryPolicy/propagation``'s window before it is believed. Leave it
    ///   false to ask whether an object exists.
    public func headObject(bucket: String, key: String, recentlyWritten: Bool = false) async throws -> ObjectMetadata {
        let response = try await execute(Call(method: .head, bucket: bucket, key: key, mode: .idempotent, name: "HeadObject",
                                              recentlyWritten: recentlyWritten))
        guard let length = response.headers["content-length"].flatMap({ Int64($0) }) else {
            throw ObjectStorageIntegrityError("HEAD \(bucket)/\(key) answered without Content-Length")
        }
        return ObjectMetadata(head: response.head, contentLength: length)
    }

    /// Streams an object, or a range of it, into `sink`, resuming after a
    /// dropped connection from the last byte received.
    ///
    /// `sink` runs on a transfer thread, in order, each byte exactly once;
    /// it may block to apply backpressure and throw to abort. A resumed
    /// request carries `If-Match` with the first response's ETag, so an
    /// object replaced mid-read fails with `PreconditionFailed` instead of
    /// mixing two versions. The byte count is checked against the length
    /// the server announced.
    ///
    /// - Parameters:
    ///   - range: the bytes to read; nil for the whole object.
    ///   - ifMatch: an ETag the object must still have (from an earlier HEAD).
    ///   - recentlyWritten: the object is known to exist (just written): a
    ///     404 or 403 is retried within ``RetryPolicy/propagation``'s window.
    /// - Returns: the object's metadata (`contentLength` is the whole object's size).
    @discardableResult
    public func getObject(bucket: String, key: String, range: ByteRange? = nil, ifMatch: String? = nil,
                          recentlyWritten: Bool = false,
                          into sink: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Void) async throws -> ObjectMetadata {
        let state = DownloadProgress(etag: ifMatch)
        let firstByte = range?.offset ?? 0
        var attempt = 1
        while true {
            try Task.checkCancellation()
            let delivered = state.delivered
            if let expected = state.expectedLength, delivered == expected, let meta = state.metadata {
                return meta  // everything arrived before the failure was noticed
            }
            let start = firstByte + delivered
            var call = Call(method: .get, bucket: bucket, key: key, mode: .idempotent, name: "GetObject",
                            recentlyWritten: recentlyWritten)
            if range != nil || delivered > 0 {
                call.headers.set("Range", ByteRange(offset: start, length: range?.length.map { $0 - delivered }).headerValue)
            }
            if let etag = state.etag { call.headers.set("If-Match", "\"\(etag)\"") }
            state.beginAttempt(skip: 0)
            let responseSink = ResponseSink(accepts: { head in
                guard head.status == 200 || head.status == 206 else { return false }
                state.accept(head: head, requestedStart: start, isResume: delivered > 0, firstByte: firstByte, range: range)
                return true
            }, write: { bytes in
                try Task.checkCancellation()
                try state.deliver(bytes, to: sink)
            })
            do {
                let response = try await execute(call, sink: responseSink)
                if state.metadata == nil {
                    // An empty body never reaches the sink: take the head from the response.
                    state.accept(head: response.head, requestedStart: start, isResume: delivered > 0, firstByte: firstByte, range: range)
                }
                guard let expected = state.expectedLength, let metadata = state.metadata else {
                    throw ObjectStorageIntegrityError("GET \(bucket)/\(key) answered without a usable length")
                }
                guard state.delivered == expected else {
                    throw ObjectStorageIntegrityError("GET \(bucket)/\(key) delivered \(state.delivered) bytes, \(expected) announced")
                }
                return metadata
            } catch let error where Self.isResumable(error) && attempt < options.retry.maxAttempts {
                let delay = options.retry.delay(beforeRetry: attempt)
                Self.logger.warning("GET \(bucket)/\(key) interrupted after \(state.delivered) bytes (\(Self.brief(error))); "
                    + "resuming in \(delay) (\(attempt)/\(options.retry.maxAttempts - 1))")
                try await options.clock.sleep(for: delay)
                attempt += 1
            }
        }
    }

    static func isResumable(_ error: any Error) -> Bool {
        switch error {
        case let transport as TransportError: transport.isTransient
        case let s3 as S3Error: s3.isTransient
        default: false
        }
    }

    /// Reads a range (or the whole object) into memory. For small reads only:
    /// use ``getObject(bucket:key:range:ifMatch:recentlyWritten:into:)`` to stream big ones.
    public func getObjectBytes(bucket: String, key: String, range: ByteRange? = nil, ifMatch: String? = nil,
                               recentlyWritten: Bool = false) async throws -> [UInt8] {
        let buffer = ByteAccumulator(reserve: Int(range?.length ?? 0))
        try await getObject(bucket: bucket, key: key, range: range, ifMatch: ifMatch, recentlyWritten: recentlyWritten) { buffer.append($0) }
        return buffer.take()
    }

    // MARK: Write

    /// Uploads an object in one PUT (up to 5 GB; use ``uploadFile(bucket:key:path:contentType:)``
    /// or a ``MultipartUploadWriter`` beyond a few parts' worth).
    ///
    /// - Parameters:
    ///   - contentMD5: the body's MD5; computed for in-memory bodies when
    ///     neither it nor `payloadSHA256` is given.
    ///   - payloadSHA256: the body's SHA-256, signed as `x-amz-content-sha256`
    ///     (the server refuses a body that does not match it); the cheaper
    ///     integrity check for large bodies, sent without Content-MD5.
    @discardableResult
    public func putObject(bucket: String, key: String, body: HTTPRequestBody, contentType: String? = nil,
                          contentMD5: [UInt8]? = nil, payloadSHA256: [UInt8]? = nil,
                          metadata: [String: String] = [:]) async throws -> UploadResult {
        var call = Call(method: .put, bucket: bucket, key: key, body: body, mode: .idempotent, name: "PutObject")
        if let contentType { call.headers.set("Content-Type", contentType) }
        call.payloadHash = payloadSHA256.map { Hex.encode($0) }
        let md5 = contentMD5 ?? (payloadSHA256 == nil ? Self.md5(of: body) : nil)
        if let md5 { call.headers.set("Content-MD5", Data(md5).base64EncodedString()) }
        for (name, value) in metadata.sorted(by: { $0.key < $1.key }) { call.headers.set("x-amz-meta-\(name)", value) }
        let response = try await execute(call)
        return UploadResult(etag: response.headers["etag"].map(unquoted), size: body.length, partCount: 0)
    }

    /// Uploads bytes in one PUT with Content-MD5.
    @discardableResult
    public func putObject(bucket: String, key: String, bytes: [UInt8], contentType: String? = nil) async throws -> UploadResult {
        try await putObject(bucket: bucket, key: key, body: .bytes(bytes), contentType: contentType)
    }

    static func md5(of body: HTTPRequestBody) -> [UInt8]? {
        if case .bytes(let slice) = body.storage { return Digest.md5(slice) }
        return nil
    }

    // MARK: Delete

    /// Deletes an object (a missing object is not an error, as in S3).
    public func deleteObject(bucket: String, key: String) async throws {
        _ = try await execute(Call(method: .delete, bucket: bucket, key: key, mode: .idempotent, name: "DeleteObject"))
    }

    /// Deletes many objects, 1000 per request; returns the keys that could not be deleted.
    public func deleteObjects(bucket: String, keys: [String]) async throws -> [DeleteFailure] {
        var failures: [DeleteFailure] = []
        var start = 0
        while start < keys.count {
            let batch = keys[start..<min(keys.count, start + 1000)]
            start += batch.count
            var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>"
            for key in batch { xml += "<Object><Key>\(xmlEscape(key))</Key></Object>" }
            xml += "</Delete>"
            let body = Array(xml.utf8)
            var call = Call(method: .post, bucket: bucket, key: nil, query: [("delete", "")], body: .bytes(body),
                            mode: .idempotent, name: "DeleteObjects")
            call.headers.set("Content-Type", "application/xml")
            call.headers.set("Content-MD5", Data(Digest.md5(body)).base64EncodedString())
            let root = try document(try await execute(call), call)
            for error in root.all("Error") {
                failures.append(DeleteFailure(key: error.value("Key") ?? "", code: error.value("Code") ?? "", message: error.value("Message")))
            }
        }
        return failures
    }

    // MARK: List

    /// One page of ListObjectsV2.
    public func listObjectsPage(bucket: String, prefix: String? = nil, delimiter: String? = nil,
                                continuationToken: String? = nil, maxKeys: Int = 1000) async throws -> ListObjectsPage {
        var query: [(name: String, value: String)] = [("list-type", "2"), ("max-keys", String(maxKeys))]
        if let prefix { query.append(("prefix", prefix)) }
        if let delimiter { query.append(("delimiter", delimiter)) }
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        let call = Call(method: .get, bucket: bucket, key: nil, query: query, mode: .idempotent, name: "ListObjectsV2")
        let root = try document(try await execute(call), call)
        let objects = root.all("Contents").map { item in
            ObjectSummary(key: item.value("Key") ?? "", size: Int64(item.value("Size") ?? "") ?? 0,
                          etag: item.value("ETag").map(unquoted), lastModified: item.value("LastModified"),
                          storageClass: item.value("StorageClass"))
        }
        let prefixes = root.all("CommonPrefixes").compactMap { $0.value("Prefix") }
        let truncated = root.value("IsTruncated") == "true"
        let next = root.value("NextContinuationToken")
        if truncated && (next ?? "").isEmpty {
            throw ObjectStorageIntegrityError("ListObjectsV2 on \(bucket) is truncated but gave no continuation token")
        }
        return ListObjectsPage(objects: objects, commonPrefixes: prefixes, isTruncated: truncated, nextContinuationToken: next)
    }

    /// Every object under `prefix`, all pages.
    public func listObjects(bucket: String, prefix: String? = nil) async throws -> [ObjectSummary] {
        var all: [ObjectSummary] = []
        var token: String? = nil
        repeat {
            let page = try await listObjectsPage(bucket: bucket, prefix: prefix, continuationToken: token)
            all.append(contentsOf: page.objects)
            token = page.isTruncated ? page.nextContinuationToken : nil
        } while token != nil
        return all
    }
}

/// Download bookkeeping shared between the awaiting task and the transfer thread.
///
/// `@unchecked Sendable` invariant: every field is guarded by `lock`.
final class DownloadProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var _delivered: Int64 = 0
    private var _etag: String?
    private var _expected: Int64?
    private var _metadata: ObjectMetadata?
    private var skip: Int64 = 0

    init(etag: String?) { _etag = etag }

    var delivered: Int64 { lock.withLock { _delivered } }
    var etag: String? { lock.withLock { _etag } }
    var expectedLength: Int64? { lock.withLock { _expected } }
    var metadata: ObjectMetadata? { lock.withLock { _metadata } }

    func beginAttempt(skip: Int64) { lock.withLock { self.skip = skip } }

    /// Records the head of a (re)started response: the object's identity and
    /// the number of bytes the whole read must deliver.
    func accept(head: HTTPResponseHead, requestedStart: Int64, isResume: Bool, firstByte: Int64, range: ByteRange?) {
        lock.withLock {
            let length = head.headers["content-length"].flatMap { Int64($0) }
            var objectSize = length ?? 0
            var bytesStart: Int64 = 0
            // Content-Range says which bytes come, whatever the status (some
            // servers answer a range with 200). Without it the body is the
            // whole object: skip what was already delivered.
            if let contentRange = head.headers["content-range"].flatMap(parseContentRange) {
                objectSize = contentRange.total ?? objectSize
                bytesStart = contentRange.first
            }
            skip = max(0, requestedStart - bytesStart)
            if _etag == nil { _etag = head.headers["etag"].map(unquoted) }
            if _metadata == nil {
                _metadata = ObjectMetadata(head: head, contentLength: objectSize)
                if let range, let bounded = range.length {
                    _expected = min(bounded, max(0, objectSize - firstByte))
                } else {
                    _expected = max(0, objectSize - firstByte)
                }
            }
        }
    }

    func deliver(_ bytes: UnsafeRawBufferPointer, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let (toSkip, limit): (Int, Int64?) = lock.withLock {
            let s = Int(min(Int64(bytes.count), skip))
            skip -= Int64(s)
            return (s, _expected.map { $0 - _delivered })
        }
        var piece = UnsafeRawBufferPointer(rebasing: bytes[toSkip...])
        if let limit, Int64(piece.count) > limit { piece = UnsafeRawBufferPointer(rebasing: piece[..<Int(max(0, limit))]) }
        guard !piece.isEmpty else { return }
        try sink(piece)
        lock.withLock { _delivered += Int64(piece.count) }
    }
}

/// Collects streamed bytes.
///
/// `@unchecked Sendable` invariant: `bytes` is guarded by `lock`.
final class ByteAccumulator: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []

    init(reserve: Int) { bytes.reserveCapacity(min(reserve, 64 << 20)) }

    func append(_ piece: UnsafeRawBufferPointer) { lock.withLock { bytes.append(contentsOf: piece) } }
    func take() -> [UInt8] { lock.withLock { bytes } }
}
