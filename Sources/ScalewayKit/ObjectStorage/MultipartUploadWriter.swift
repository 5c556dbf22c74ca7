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
/// - Bytes accumulate into the current part; a full part is uploaded in the
///   background (Content-MD5, retried on failure) while the next one fills.
///   At most ``ObjectStorageOptions/uploadConcurrency`` parts are in flight:
///   ``append(_:)`` waits for a slot, so memory stays at about
///   (uploadConcurrency + 1) parts.
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
    private var buffer: [UInt8] = []
    private var currentPartSize: Int64
    private var uploadID: String?
    private var nextPartNumber = 1
    private var inFlight: [(number: Int, task: Task<CompletedPart, any Error>)] = []
    private var completed: [CompletedPart] = []
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

    /// Bytes accepted so far.
    public var bytesWritten: Int64 { total }

    /// The size of each part (the last may be smaller).
    static func partSize(policy: PartSizePolicy, expectedSize: Int64?, partNumber: Int) -> Int64 {
        let byNumber = policy.partSize(forPartNumber: partNumber)
        guard let expectedSize else { return byNumber }
        return max(policy.partSize(forObjectSize: expectedSize), byNumber)
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
            let room = Int(currentPartSize) - buffer.count
            let count = min(room, bytes.endIndex - offset)
            if buffer.capacity < Int(currentPartSize) { buffer.reserveCapacity(Int(currentPartSize)) }
            buffer.append(contentsOf: bytes[offset..<(offset + count)])
            offset += count
            total += Int64(count)
            if buffer.count == Int(currentPartSize) { try await flushPart() }
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
                let result = try await client.putObject(bucket: bucket, key: key, body: .bytes(buffer), contentType: contentType)
                buffer = []
                try await client.verifyLength(bucket: bucket, key: key, expected: total)
                state = .finished
                return UploadResult(etag: result.etag, size: total, partCount: 0)
            }
            if !buffer.isEmpty { try await flushPart() }
            while !inFlight.isEmpty { try await collectOldest() }
            let etag = try await client.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID!,
                                                                parts: completed, expectedSize: total)
            try await client.verifyLength(bucket: bucket, key: key, expected: total)
            state = .finished
            return UploadResult(etag: etag, size: total, partCount: completed.count)
        } catch {
            try await fail(error)
        }
    }

    /// Cancels parts in flight and aborts the upload. Safe to call at any
    /// time, several times, and after a failure.
    public func abort() async {
        guard state == .open else { return }
        state = .aborted
        for part in inFlight { part.task.cancel() }
        for part in inFlight { _ = try? await part.task.value }
        inFlight = []
        buffer = []
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
            while inFlight.count >= client.options.uploadConcurrency { try await collectOldest() }
            let number = nextPartNumber
            guard number <= PartSizePolicy.maximumPartCount else {
                throw ObjectStorageIntegrityError("\(bucket)/\(key) needs more than \(PartSizePolicy.maximumPartCount) parts: "
                    + "give the expected size so parts are sized for it")
            }
            let part = buffer
            nextPartNumber += 1
            currentPartSize = Self.partSize(policy: client.options.partSize, expectedSize: expectedSize, partNumber: nextPartNumber)
            buffer = []
            let client = client, bucket = bucket, key = key, uploadID = uploadID!
            inFlight.append((number, Task {
                try await client.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: number, bytes: part[...])
            }))
        } catch {
            try await fail(error)
        }
    }

    private func collectOldest() async throws {
        let oldest = inFlight.removeFirst()
        completed.append(try await oldest.task.value)
    }

    private func fail(_ error: any Error) async throws -> Never {
        if failure == nil { failure = error }
        busy = false
        await abort()
        throw failure!
    }
}
