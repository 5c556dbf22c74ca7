import Crypto
import Foundation

extension ObjectStorageClient {
    // MARK: Multipart primitives

    /// Starts a multipart upload and returns its id. Not retried after an
    /// ambiguous failure (a duplicate would be billed until aborted); see
    /// ``listMultipartUploads(bucket:prefix:)`` to reclaim leftovers.
    public func createMultipartUpload(bucket: String, key: String, contentType: String? = nil) async throws -> String {
        var call = Call(method: .post, bucket: bucket, key: key, query: [("uploads", "")], mode: .onlyIfNotProcessed,
                        name: "CreateMultipartUpload")
        if let contentType { call.headers.set("Content-Type", contentType) }
        let root = try document(try await execute(call), call)
        guard let id = root.value("UploadId"), !id.isEmpty else {
            throw ObjectStorageIntegrityError("CreateMultipartUpload on \(bucket)/\(key) answered without an UploadId")
        }
        return id
    }

    /// Uploads one part from memory, its SHA-256 signed; retried on failure
    /// (re-sending a part number replaces it).
    public func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int,
                           bytes: ArraySlice<UInt8>) async throws -> CompletedPart {
        try await uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber,
                             body: .bytes(bytes), payloadSHA256: Digest.sha256(bytes))
    }

    /// Uploads one part from any body whose SHA-256 is known.
    ///
    /// Integrity: the SHA-256 goes into the signature as
    /// `x-amz-content-sha256` (the "SHA256 hash of the request body" of
    /// Scaleway's SigV4 documentation); the server hashes what it received and
    /// refuses a mismatch (`XAmzContentSHA256Mismatch`, 400), so a part
    /// damaged on the way is never stored. That is the check Content-MD5 gave
    /// (S3 documents the signed hash as replacing it for SigV4 requests), at
    /// 40% of the CPU: with SHA extensions OpenSSL hashes SHA-256 at about
    /// 1.5 GB/s per core against 0.6 GB/s for MD5, and MD5 was the largest
    /// single cost of a restore (38% of the plugin's CPU). Not sent
    /// `UNSIGNED-PAYLOAD`: the part is in memory (or a file) and its hash known
    /// before the request starts.
    public func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int,
                           body: HTTPRequestBody, payloadSHA256: [UInt8]) async throws -> CompletedPart {
        precondition((1...PartSizePolicy.maximumPartCount).contains(partNumber), "part number out of range")
        let call = Call(method: .put, bucket: bucket, key: key,
                        query: [("partNumber", String(partNumber)), ("uploadId", uploadID)], body: body,
                        payloadHash: Hex.encode(payloadSHA256), mode: .idempotent, name: "UploadPart \(partNumber)")
        let response = try await execute(call)
        guard let etag = response.headers["etag"] else {
            throw ObjectStorageIntegrityError("UploadPart \(partNumber) of \(bucket)/\(key) answered without an ETag")
        }
        return CompletedPart(partNumber: partNumber, etag: unquoted(etag), size: body.length)
    }

    /// Completes an upload from its parts (sorted by number here). If a
    /// retry finds the upload already completed, the stored object is
    /// accepted when its length is `expectedSize`.
    public func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [CompletedPart],
                                        expectedSize: Int64? = nil) async throws -> String? {
        var xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts.sorted(by: { $0.partNumber < $1.partNumber }) {
            xml += "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\"\(xmlEscape(part.etag))\"</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        var call = Call(method: .post, bucket: bucket, key: key, query: [("uploadId", uploadID)], body: .bytes(Array(xml.utf8)),
                        mode: .idempotent, name: "CompleteMultipartUpload")
        call.headers.set("Content-Type", "application/xml")
        do {
            let root = try document(try await execute(call), call)
            return root.value("ETag").map(unquoted)
        } catch let error as S3Error where error.code == "NoSuchUpload" {
            // An earlier attempt may have completed it before its answer was lost.
            guard let expectedSize, let meta = try? await headObject(bucket: bucket, key: key),
                  meta.contentLength == expectedSize else { throw error }
            return meta.etag
        }
    }

    /// Aborts an upload so its parts stop being billed; an upload already gone is not an error.
    public func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        do {
            _ = try await execute(Call(method: .delete, bucket: bucket, key: key, query: [("uploadId", uploadID)],
                                       mode: .idempotent, name: "AbortMultipartUpload"))
        } catch let error as S3Error where error.code == "NoSuchUpload" || error.httpStatus == 404 {}
    }

    /// Uploads started and not finished under `prefix`, all pages.
    public func listMultipartUploads(bucket: String, prefix: String? = nil) async throws -> [MultipartUploadSummary] {
        var all: [MultipartUploadSummary] = []
        var keyMarker: String? = nil
        var uploadMarker: String? = nil
        while true {
            var query: [(name: String, value: String)] = [("uploads", "")]
            if let prefix { query.append(("prefix", prefix)) }
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadMarker { query.append(("upload-id-marker", uploadMarker)) }
            let call = Call(method: .get, bucket: bucket, key: nil, query: query, mode: .idempotent, name: "ListMultipartUploads")
            let root = try document(try await execute(call), call)
            all += root.all("Upload").map {
                MultipartUploadSummary(key: $0.value("Key") ?? "", uploadID: $0.value("UploadId") ?? "", initiated: $0.value("Initiated"))
            }
            guard root.value("IsTruncated") == "true" else { return all }
            keyMarker = root.value("NextKeyMarker")
            uploadMarker = root.value("NextUploadIdMarker")
            if (keyMarker ?? "").isEmpty && (uploadMarker ?? "").isEmpty { return all }
        }
    }

    // MARK: Whole uploads

    /// Uploads a file: one PUT when small, else a multipart upload with
    /// ``ObjectStorageOptions/uploadConcurrency`` parts in flight, each
    /// streamed from the file (never held in memory), its SHA-256 signed. Any
    /// failure aborts the upload; the stored length is verified.
    @discardableResult
    public func uploadFile(bucket: String, key: String, path: String, contentType: String? = nil) async throws -> UploadResult {
        let size = try await BlockingWork.run { try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int64 ?? 0 }
        if options.partSize.usesSinglePut(objectSize: size) {
            let sha256 = try await BlockingWork.run { try Self.sha256(ofFile: path, offset: 0, length: size) }
            let result = try await putObject(bucket: bucket, key: key, body: .file(path: path, length: size),
                                             contentType: contentType, payloadSHA256: sha256)
            try await verifyLength(bucket: bucket, key: key, expected: size)
            return result
        }
        let partSize = options.partSize.partSize(forObjectSize: size)
        let partCount = Int((size + partSize - 1) / partSize)
        let uploadID = try await createMultipartUpload(bucket: bucket, key: key, contentType: contentType)
        do {
            let parts = try await withThrowingTaskGroup(of: CompletedPart.self) { group in
                var parts: [CompletedPart] = []
                var next = 1
                func launch(_ number: Int) {
                    let offset = Int64(number - 1) * partSize
                    let length = min(partSize, size - offset)
                    group.addTask {
                        let sha256 = try await BlockingWork.run { try Self.sha256(ofFile: path, offset: offset, length: length) }
                        return try await self.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: number,
                                                         body: .file(path: path, offset: offset, length: length),
                                                         payloadSHA256: sha256)
                    }
                }
                while next <= min(partCount, options.uploadConcurrency) { launch(next); next += 1 }
                while let part = try await group.next() {
                    parts.append(part)
                    if next <= partCount { launch(next); next += 1 }
                }
                return parts
            }
            let etag = try await completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: parts, expectedSize: size)
            try await verifyLength(bucket: bucket, key: key, expected: size)
            return UploadResult(etag: etag, size: size, partCount: partCount)
        } catch {
            await abortQuietly(bucket: bucket, key: key, uploadID: uploadID, because: error)
            throw error
        }
    }

    /// Starts a streaming upload: push bytes with
    /// ``MultipartUploadWriter/append(_:)``, then ``MultipartUploadWriter/finish()``.
    ///
    /// - Parameter expectedSize: the total size when known (it sizes parts
    ///   for the 1000-part cap); without it part sizes grow as the stream does.
    public func makeMultipartWriter(bucket: String, key: String, expectedSize: Int64? = nil,
                                    contentType: String? = nil) -> MultipartUploadWriter {
        MultipartUploadWriter(client: self, bucket: bucket, key: key, expectedSize: expectedSize, contentType: contentType)
    }

    // MARK: Helpers

    func verifyLength(bucket: String, key: String, expected: Int64) async throws {
        let meta = try await headObject(bucket: bucket, key: key)
        guard meta.contentLength == expected else {
            throw ObjectStorageIntegrityError("\(bucket)/\(key) holds \(meta.contentLength) bytes after uploading \(expected)")
        }
    }

    func abortQuietly(bucket: String, key: String, uploadID: String, because error: any Error) async {
        Self.logger.warning("aborting multipart upload of \(bucket)/\(key) after: \(error)")
        // Abort even when the task is cancelled: a forgotten upload is billed.
        let abort = Task.detached { try await self.abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID) }
        do { try await abort.value } catch {
            Self.logger.error("could not abort multipart upload \(uploadID) of \(bucket)/\(key): \(error); "
                + "it stays billed until aborted (it is listed by ListMultipartUploads)")
        }
    }

    /// SHA-256 of a file range, read with `pread` (call on a dedicated thread).
    static func sha256(ofFile path: String, offset: Int64, length: Int64) throws -> [UInt8] {
        let reader = try FileRangeBodyReader(path: path, offset: offset, length: length)
        let digest = Digest(.sha256)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try reader.read(into: buffer)
            if n == 0 { break }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[..<n]))
        }
        return digest.finalize()
    }
}
