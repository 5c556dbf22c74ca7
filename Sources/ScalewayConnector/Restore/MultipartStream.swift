import Logging
import PluginProtocol

/// Streams one image into a multipart upload with bounded memory.
///
/// Bytes are gathered into parts of ``partSize``; a full part is uploaded
/// in the background while the next fills, with at most ``maxInFlight``
/// parts uploading, so memory stays at (maxInFlight + 1) x partSize
/// whatever the image size. Parts are retried on transient failures.
/// `abort` cancels and deletes the upload (S3 bills incomplete uploads).
final class MultipartStream: Sendable {
    static let maxInFlight = 2
    static let maxAttempts = 5

    let store: any ObjectStore
    let bucket: String
    let key: String
    let uploadID: String
    let partSize: Int
    private let state = StreamState()

    /// Part size for an object of `size` bytes: at least 8 MiB and at least
    /// size/1000 (Scaleway allows 1000 parts), rounded up to whole MiB.
    /// Unknown sizes (-1) use 64 MiB parts (objects up to 64 GB).
    static func partSize(forObjectSize size: Int64) -> Int {
        let mib = 1 << 20
        guard size > 0 else { return 64 * mib }
        let minimum = (size + 999) / 1000
        let rounded = Int((minimum + Int64(mib) - 1) / Int64(mib)) * mib
        return max(8 * mib, rounded)
    }

    init(store: any ObjectStore, bucket: String, key: String, uploadID: String, partSize: Int) {
        self.store = store
        self.bucket = bucket
        self.key = key
        self.uploadID = uploadID
        self.partSize = partSize
    }

    /// Appends bytes; uploads each part as it fills.
    func append(_ bytes: [UInt8]) async throws {
        var remaining = bytes[...]
        while !remaining.isEmpty {
            let room = partSize - (await state.pendingCount)
            let slice = remaining.prefix(room)
            await state.buffer(slice)
            remaining = remaining.dropFirst(slice.count)
            if await state.pendingCount >= partSize { try await flushPart() }
        }
    }

    private func flushPart() async throws {
        let (number, bytes) = await state.takePart()
        guard !bytes.isEmpty else { return }
        let task = Task { [store, bucket, key, uploadID] () throws -> (Int, String) in
            var attempt = 0
            while true {
                do {
                    let etag = try await store.uploadPart(bucket: bucket, key: key, uploadID: uploadID,
                                                          partNumber: number, bytes: bytes)
                    return (number, etag)
                } catch where CloudFailure.isTransient(error) && attempt + 1 < Self.maxAttempts {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(200 << min(attempt, 4)))
                }
            }
        }
        if let oldest = await state.addInFlight(task, limit: Self.maxInFlight) {
            await state.record(try await oldest.value)
        }
    }

    /// Uploads the last part and completes the upload.
    func finish() async throws -> Int {
        try await flushPart()
        for task in await state.drainInFlight() { await state.record(try await task.value) }
        let parts = await state.completedParts()
        try await store.completeMultipartUpload(bucket: bucket, key: key, uploadID: uploadID,
                                                parts: parts.map { (number: $0.0, etag: $0.1) })
        return parts.count
    }

    /// Cancels the part uploads and aborts the multipart upload.
    func abort() async {
        for task in await state.drainInFlight() { task.cancel(); _ = await task.result }
        do {
            try await store.abortMultipartUpload(bucket: bucket, key: key, uploadID: uploadID)
        } catch where CloudFailure.isNotFound(error) {
        } catch {
            Logger(label: "restore").error("could not abort the multipart upload of s3://\(bucket)/\(key): \(error)")
        }
    }
}

/// The mutable side of a ``MultipartStream``.
private actor StreamState {
    private var pending: [UInt8] = []
    private var nextPart = 1
    private var inFlight: [Task<(Int, String), any Error>] = []
    private var done: [(Int, String)] = []

    var pendingCount: Int { pending.count }

    func buffer(_ bytes: ArraySlice<UInt8>) { pending.append(contentsOf: bytes) }

    func takePart() -> (Int, [UInt8]) {
        let bytes = pending
        pending = []
        guard !bytes.isEmpty else { return (0, []) }
        defer { nextPart += 1 }
        return (nextPart, bytes)
    }

    /// Adds a part upload; returns the oldest one to await when over `limit`.
    func addInFlight(_ task: Task<(Int, String), any Error>, limit: Int) -> Task<(Int, String), any Error>? {
        inFlight.append(task)
        return inFlight.count > limit ? inFlight.removeFirst() : nil
    }

    func drainInFlight() -> [Task<(Int, String), any Error>] {
        defer { inFlight = [] }
        return inFlight
    }

    func record(_ part: (Int, String)) { done.append(part) }

    func completedParts() -> [(Int, String)] { done.sorted { $0.0 < $1.0 } }
}
