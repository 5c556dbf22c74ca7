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
///   At most ``ObjectStorageOptions/uploadConcurrency`` parts are in flight,
///   and fewer when parts are large: the part buffers (in flight + filling)
///   stay within ``partMemoryBudget`` whenever two parts fit in it, so
///   memory does not grow with the object (the 17 MiB parts of a 16 GiB
///   object get 1 in flight, 8 MiB parts 3). ``append(_:)`` waits for a slot.
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
    private var buffer: PartBuffer?
    private var currentPartSize: Int64
    private var uploadID: String?
    private var nextPartNumber = 1
    private var inFlight: [(number: Int, buffer: PartBuffer, task: Task<CompletedPart, any Error>)] = []
    /// Buffers of uploaded parts, ready to be refilled.
    private var spare: [PartBuffer] = []
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

    /// Bytes of part buffers a writer aims to hold at once (uploading and
    /// filling): 32 MiB, i.e. the default 3 uploads of 8 MiB plus the part
    /// filling. Never fewer than one part uploading while one fills.
    public static let partMemoryBudget: Int64 = 32 << 20

    /// Parts in flight for parts of `partSize` bytes: as many as the budget
    /// holds besides the filling one, within `concurrency`, at least 1.
    static func inFlightLimit(partSize: Int64, concurrency: Int) -> Int {
        max(1, min(concurrency, Int(partMemoryBudget / max(1, partSize)) - 1))
    }

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
            let part = buffer ?? takeBuffer(capacity: Int(currentPartSize))
            buffer = part
            let taken = bytes[offset...].withUnsafeBytes { part.append($0) }
            offset += taken
            total += Int64(taken)
            if part.isFull { try await flushPart() }
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
                let last = buffer ?? PartBuffer(capacity: 1)
                let result = try await client.putObject(bucket: bucket, key: key, body: last.body, contentType: contentType,
                                                        payloadSHA256: last.seal())
                buffer = nil
                try await client.verifyLength(bucket: bucket, key: key, expected: total)
                state = .finished
                return UploadResult(etag: result.etag, size: total, partCount: 0)
            }
            if let last = buffer, !last.isEmpty { try await flushPart() }
            while !inFlight.isEmpty { try await collectOldest() }
            spare = []  // unmap now: the writer may outlive the upload
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
        buffer = nil
        spare = []
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
            let limit = Self.inFlightLimit(partSize: currentPartSize, concurrency: client.options.uploadConcurrency)
            while inFlight.count >= limit { try await collectOldest() }
            let number = nextPartNumber
            guard number <= PartSizePolicy.maximumPartCount else {
                throw ObjectStorageIntegrityError("\(bucket)/\(key) needs more than \(PartSizePolicy.maximumPartCount) parts: "
                    + "give the expected size so parts are sized for it")
            }
            guard let part = buffer else { return }
            nextPartNumber += 1
            currentPartSize = Self.partSize(policy: client.options.partSize, expectedSize: expectedSize, partNumber: nextPartNumber)
            buffer = nil
            let client = client, bucket = bucket, key = key, uploadID = uploadID!
            let sha256 = part.seal()
            inFlight.append((number, part, Task {
                try await client.uploadPart(bucket: bucket, key: key, uploadID: uploadID, partNumber: number,
                                            body: part.body, payloadSHA256: sha256)
            }))
        } catch {
            try await fail(error)
        }
    }

    private func collectOldest() async throws {
        let oldest = inFlight.removeFirst()
        completed.append(try await oldest.task.value)
        // The upload has finished reading the buffer: keep it for a later
        // part (at most as many as can be in flight, plus the filling one).
        if spare.count <= client.options.uploadConcurrency { spare.append(oldest.buffer) }
    }

    /// An empty part buffer of `capacity` bytes, reused when one is spare.
    private func takeBuffer(capacity: Int) -> PartBuffer {
        while let reused = spare.popLast() {
            if reused.capacity == max(1, capacity) {
                reused.reset()
                return reused
            }
        }
        return PartBuffer(capacity: capacity)
    }

    private func fail(_ error: any Error) async throws -> Never {
        if failure == nil { failure = error }
        busy = false
        await abort()
        throw failure!
    }
}
