import ScalewayKit

/// ``ObjectStore`` over ScalewayKit's Object Storage client of one region.
struct ScalewayKitObjectStore: ObjectStore {
    let session: ScalewaySession
    let region: String
    /// An `s3_endpoint` containing `{region}`, filled with this store's region.
    var endpointTemplate: String?

    private func client() throws -> ObjectStorageClient {
        guard let r = Region(rawValue: region) else { throw CloudError(.invalidRequest, message: "unknown region \(region)") }
        do {
            guard let template = endpointTemplate else { return try session.objectStorage(region: r) }
            let endpoints = ScalewayEndpoints(apiURL: session.endpoints.apiURL,
                                              s3Endpoint: template.replacingOccurrences(of: "{region}", with: region))
            return try ObjectStorageClient(transport: session.transport, credentials: session.credentials, region: r,
                                           endpoints: endpoints, options: session.objectStorageOptions)
        } catch {
            throw ScalewayKitErrors.map(error)
        }
    }

    func bucketRegion(_ bucket: String) async throws -> String {
        let c = try client()
        // An empty LocationConstraint means "the endpoint's own region".
        return try await ScalewayKitErrors.call { try await c.bucketLocation(bucket) } ?? region
    }

    func headObject(bucket: String, key: String) async throws -> ObjectFacts? {
        let c = try client()
        do {
            let meta = try await ScalewayKitErrors.call { try await c.headObject(bucket: bucket, key: key) }
            return ObjectFacts(key: key, size: meta.contentLength, contentType: meta.contentType)
        } catch where CloudFailure.isNotFound(error) {
            return nil
        }
    }

    func getObject(bucket: String, key: String, offset: Int64, length: Int64,
                   sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) async throws {
        let c = try client()
        // The connector only reads objects an export has just written (the
        // staged images): a 404/403 there may be read-after-write
        // propagation, retried within the Object Storage window (30 s).
        _ = try await ScalewayKitErrors.call {
            try await c.getObject(bucket: bucket, key: key, range: ByteRange(offset: offset, length: length),
                                  recentlyWritten: true) { sink($0) }
        }
    }

    func listObjects(bucket: String, prefix: String) async throws -> [ObjectFacts] {
        let c = try client()
        return try await ScalewayKitErrors.call { try await c.listObjects(bucket: bucket, prefix: prefix) }
            .map { ObjectFacts(key: $0.key, size: $0.size) }
    }

    func deleteObject(bucket: String, key: String) async throws {
        let c = try client()
        try await ScalewayKitErrors.call { try await c.deleteObject(bucket: bucket, key: key) }
    }

    func createMultipartUpload(bucket: String, key: String, contentType: String) async throws -> String {
        let c = try client()
        return try await ScalewayKitErrors.call { try await c.createMultipartUpload(bucket: bucket, key: key, contentType: contentType) }
    }

    func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, part: PartBuffer) async throws -> String {
        let c = try client()
        // PartPipeline seals a part before any upload sees it.
        guard let sha256 = part.sha256 else { preconditionFailure("part \(partNumber) of \(key) was not sealed") }
        return try await ScalewayKitErrors.call {
            try await c.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: partNumber,
                                   body: part.body, payloadSHA256: sha256)
        }.etag
    }

    func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [(number: Int, etag: String)]) async throws {
        let c = try client()
        let completed = parts.map { CompletedPart(partNumber: $0.number, etag: $0.etag, size: 0) }
        _ = try await ScalewayKitErrors.call {
            try await c.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID, parts: completed)
        }
    }

    func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws {
        let c = try client()
        try await ScalewayKitErrors.call { try await c.abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID) }
    }

    func putObject(bucket: String, key: String, bytes: [UInt8], contentType: String) async throws {
        let c = try client()
        _ = try await ScalewayKitErrors.call { try await c.putObject(bucket: bucket, key: key, bytes: bytes, contentType: contentType) }
    }

    func listMultipartUploads(bucket: String, prefix: String) async throws -> [(key: String, uploadID: String)] {
        let c = try client()
        return try await ScalewayKitErrors.call { try await c.listMultipartUploads(bucket: bucket, prefix: prefix) }
            .map { (key: $0.key, uploadID: $0.uploadID) }
    }
}
