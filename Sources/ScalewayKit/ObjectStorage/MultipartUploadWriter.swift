import Logging

/// Streams bytes pushed sequentially into one object, through a multipart
/// upload, with memory bounded to a few parts.
///
/// Made for the restore flow, which receives an image chunk by chunk:
///
/// ```swift
/// let writer = storage.makeMultipartWriter(bucket: b, key: k, expectedSize: size)
/// do {
///     for try await chunk in chunks { try await writer.append(chunk) }
///     let result = try await writer.finish()
/// } catch {
///     await writer.abort()
///     throw error
/// }
/// ```
///
/// - Bytes accumulate into the current part, hashed (SHA-256) as they are
///   copied in; a full part is uploaded in the background (its hash signed,
///   retried on failure) while the next one fills.
///   At most ``ObjectStorageOptions/uploadConcurrency`` parts upload while
///   the next fills (one more while the writer waits for the oldest, see
///   ``PartPipeline``), and fewer when parts are large: the part buffers
///   stay within ``partMemoryBudget`` whenever two parts fit in it, so
///   memory does not grow with the object (the 17 MiB parts of a 16 GiB
///   object get 1 in flight, 8 MiB parts 2). ``append(_:)`` waits for a slot.
/// - Part buffers are reused: an uploaded part's mapping is refilled by a
///   later part instead of being unmapped and a new one mapped and faulted
///   in page by page.
/// - An object smaller than one part goes as a single PUT; the multipart
///   upload is only created when the first part fills.
/// - Any failure aborts the upload (nothing stays billed) and is rethrown by
///   this and every later call. ``finish()`` verifies the stored length.
/// - Calls must not overlap: await each before the next.
public actor MultipartUploadWriter {
    private enum State { case open, finished, aborted }

    let client: ObjectStorageClient
    public nonisolated let bucket: String
    public nonisolated let key: String
    let expectedSize: Int64?
    let contentType: String?

    private var state = State.open
    private var busy = false
    private var parts = PartPipeline()
    private var currentPartSize: Int64
    private var uploadID: String?
    private var failure: (any Error)?
    private var total: Int64 = 0

    init(client: ObjectStorageClient, bucket: String, key: String, expectedSize: Int64?, contentType: String?) {
        self.client = client
        self.bucket = bucket
        self.key = key
        self.expectedSize = expectedSize
        self.contentType = contentType
        self.currentPartSize = MultipartUploadWriter.partSize(policy: client.options.partSize, expectedSize: expectedSize, partNumber: 1)
    }

    deinit {
        // Dropped without finish() or abort(): abort in the background so the upload is not left billed.
        if state == .open, let uploadID {
            let client = client, bucket = bucket, key = key
            Task.detached { try? await client.abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID) }
        }
    }

    /// Bytes of part buffers a writer aims to hold at once (uploading and
    /// filling): 24 MiB, i.e. 2 uploads of 8 MiB plus the part filling.
    /// Never fewer than one part uploading while one fills.
    ///
    /// Sized for issue 4's bound, a process under 64 MiB resident while it
    /// uploads 4 GiB: a small process of its own (bench/client-run) idles at
    /// 29 MiB and peaked at 59 MiB with this budget, 68 MiB with 32 MiB (3
    /// uploads in flight); on loopback a third upload in flight gained no
    /// throughput that load on the shared 2-core machine did not hide.
    public static let partMemoryBudget: Int64 = 24 << 20


    /// Bytes accepted so far.
    public var bytesWritten: Int64 { total }

    /// The size of each part (the last may be smaller).
    /// A known size fixes one part size for the whole upload; an unknown one
    /// lets sizes grow with the part number.
    static func partSize(policy: PartSizePolicy, expectedSize: Int64?, partNumber: Int) -> Int64 {
        guard let expectedSize else { return policy.partSize(forPartNumber: partNumber) }
        return policy.partSize(forObjectSize: expectedSize)
    }

    /// Appends bytes; uploads every part that fills. Waits while the maximum
    /// number of parts is in flight.
    public func append(_ bytes: [UInt8]) async throws {
        try await append(contentsOf: bytes[...])
    }

    /// Appends a slice of a larger buffer.
    public func append(contentsOf bytes: ArraySlice<UInt8>) async throws {
        try enter()
        defer { busy = false }
        var offset = bytes.startIndex
        while offset < bytes.endIndex {
            let taken = parts.fill(bytes[offset...], partSize: Int(currentPartSize))
            offset += taken
            total += Int64(taken)
            if parts.hasFullPart { try await flushPart() }
        }
    }

    /// Uploads what remains, completes the upload and checks the stored length.
    public func finish() async throws -> UploadResult {
        try enter()
        defer { busy = false }
        if let expectedSize, expectedSize != total {
            try await fail(ObjectStorageIntegrityError("\(bucket)/\(key): \(total) bytes written, \(expectedSize) expected"))
        }
        do {
            if uploadID == nil {
                let last = parts.sealedFillingPart()
                let result = try await client.putObject(bucket: bucket, key: key, body: last.body, contentType: contentType,
                                                        payloadSHA256: last.sha256)
                parts.discard()
                try await client.verifyLength(bucket: bucket, key: key, expected: total)
                state = .finished
                return UploadResult(etag: result.etag, size: total, partCount: 0)
            }
            if parts.hasPendingBytes { try await flushPart() }
            for part in parts.drain() { parts.collect(part, result: try await part.task.value) }
            parts.releaseSpareBuffers()  // unmap now: the writer may outlive the upload
            let etag = try await client.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID!,
                                                                parts: parts.completed, expectedSize: total)
            try await client.verifyLength(bucket: bucket, key: key, expected: total)
            state = .finished
            return UploadResult(etag: etag, size: total, partCount: parts.completed.count)
        } catch {
            try await fail(error)
        }
    }

    /// Cancels parts in flight and aborts the upload. Safe to call at any
    /// time, several times, and after a failure.
    public func abort() async {
        guard state == .open else { return }
        state = .aborted
        let inFlight = parts.drain()
        for part in inFlight { part.task.cancel() }
        for part in inFlight { _ = try? await part.task.value }
        parts.discard()
        if let uploadID {
            await client.abortQuietly(bucket: bucket, key: key, uploadID: uploadID,
                                      because: failure ?? ObjectStorageIntegrityError("the writer was aborted"))
        }
    }

    // MARK: Internals

    private func enter() throws {
        if let failure { throw failure }
        guard state == .open else {
            throw ObjectStorageIntegrityError("the writer for \(bucket)/\(key) is already \(state == .finished ? "finished" : "aborted")")
        }
        guard !busy else {
            throw ObjectStorageIntegrityError("overlapping calls to the writer for \(bucket)/\(key): await each call before the next")
        }
        busy = true
    }

    private func flushPart() async throws {
        do {
            if uploadID == nil {
                uploadID = try await client.createMultipartUpload(bucket: bucket, key: key, contentType: contentType)
            }
            let limit = PartPipeline.inFlightLimit(partSize: currentPartSize, memoryBudget: Self.partMemoryBudget,
                                                   concurrency: client.options.uploadConcurrency)
            guard parts.nextPartNumber <= PartSizePolicy.maximumPartCount else {
                throw ObjectStorageIntegrityError("\(bucket)/\(key) needs more than \(PartSizePolicy.maximumPartCount) parts: "
                    + "give the expected size so parts are sized for it")
            }
            let client = client, bucket = bucket, key = key, uploadID = uploadID!
            parts.launch { number, part in
                try await client.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: number,
                                            body: part.body, payloadSHA256: part.sha256!)
            }
            // The part is on its way; the next one fills the oldest's buffer once that is uploaded.
            while let oldest = parts.oldest(beyond: limit) { parts.collect(oldest, result: try await oldest.task.value) }
            currentPartSize = Self.partSize(policy: client.options.partSize, expectedSize: expectedSize,
                                            partNumber: parts.nextPartNumber)
        } catch {
            try await fail(error)
        }
    }

    private func fail(_ error: any Error) async throws -> Never {
        if failure == nil { failure = error }
        busy = false
        await abort()
        throw failure!
    }
}
