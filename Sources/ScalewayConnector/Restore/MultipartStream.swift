import Logging
import PluginProtocol

/// Streams one image into a multipart upload with bounded memory.
///
/// Bytes are gathered into parts of ``partSize``; a full part is uploaded
/// in the background while the next fills. Memory is a fixed budget, not a
/// function of the image size: ``bufferSlots(forPartSize:)`` part buffers
/// (one filling, the rest uploading), ``partMemoryBudget`` in all. Parts are
/// as small as Scaleway allows (5 MiB, or size/1000 for images above 5 GB),
/// so that the budget holds 2 uploads in flight while the third part fills;
/// the large parts of a big image get fewer (17 MiB parts at 16 GiB: 1),
/// never fewer than one uploading while the next fills.
/// The budget is what the plugin's 64 MiB peak-RSS target leaves: the
/// process's libraries take about 36 MiB resident and the `write` lines
/// and decoded chunks in flight about 10 MiB more. Measured on a 1 GiB
/// restore (peak RSS): 8 MiB parts in a 24 MiB budget 76-78 MiB, in a
/// 16 MiB budget (1 in flight) 70 MiB; 5 MiB parts in 16 MiB (2 in flight)
/// 67 MiB, at the same plugin CPU per GB (3.0-3.1 s, loaded machine).
///
/// Each part's integrity comes from its SHA-256, signed in the request
/// (ScalewayKit's `uploadPart`): the store refuses a part whose bytes are
/// not the ones hashed.
///
/// Part buffers are reused: an uploaded part's array comes back to the
/// pool and the next part fills it in place, so the steady state allocates
/// nothing and touches no fresh pages (a new MiB-sized buffer costs an mmap
/// and a page fault per 4 KiB). Parts are retried on transient failures.
/// `abort` cancels and deletes the upload (S3 bills incomplete uploads).
final class MultipartStream: Sendable {
    /// Bytes of part buffers one stream may hold (filling + uploading).
    static let partMemoryBudget = 16 << 20
    static let maxAttempts = 5

    /// Part buffers for parts of `partSize` bytes: as many as the budget
    /// holds, at least 2 (one filling while one uploads).
    static func bufferSlots(forPartSize partSize: Int) -> Int {
        max(2, partMemoryBudget / max(1, partSize))
    }

    /// Parts that were filled into the buffer of an earlier, uploaded part.
    var reusedBuffers: Int { get async { await state.reusedBuffers } }

    /// Part uploads in flight at once: every buffer but the one filling.
    var maxInFlight: Int { Self.bufferSlots(forPartSize: partSize) - 1 }

    let store: any ObjectStore
    let bucket: String
    let key: String
    let uploadID: String
    let partSize: Int
    private let state: StreamState

    /// Part size for an object of `size` bytes: at least 5 MiB (Scaleway's
    /// minimum part) and at least size/1000 (Scaleway allows 1000 parts),
    /// rounded up to whole MiB. Unknown sizes (-1) use 64 MiB parts (objects
    /// up to 64 GB).
    static func partSize(forObjectSize size: Int64) -> Int {
        let mib = 1 << 20
        guard size > 0 else { return 64 * mib }
        let minimum = (size + 999) / 1000
        let rounded = Int((minimum + Int64(mib) - 1) / Int64(mib)) * mib
        return max(5 * mib, rounded)
    }

    init(store: any ObjectStore, bucket: String, key: String, uploadID: String, partSize: Int) {
        self.store = store
        self.bucket = bucket
        self.key = key
        self.uploadID = uploadID
        self.partSize = partSize
        self.state = StreamState(partSize: partSize)
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
        guard let (number, part) = await state.takePart() else { return }
        let task = Task { [store, bucket, key, uploadID, state] () throws -> (Int, String) in
            var attempt = 0
            while true {
                do {
                    let etag = try await store.uploadPart(bucket: bucket, key: key, uploadID: uploadID,
                                                          partNumber: number, bytes: part.bytes)
                    // Hand the buffer back for a later part. Moved out of
                    // the box, so once the store has let go of the request
                    // it is the only reference and its storage is reused.
                    await state.recycle(part.take())
                    return (number, etag)
                } catch where CloudFailure.isTransient(error) && attempt + 1 < Self.maxAttempts {
                    attempt += 1
                    try await Task.sleep(for: .milliseconds(200 << min(attempt, 4)))
                }
            }
        }
        if let oldest = await state.addInFlight(task, limit: maxInFlight) {
            await state.record(try await oldest.value)
        }
    }

    /// Uploads the last part and completes the upload.
    func finish() async throws -> Int {
        try await flushPart()
        for task in await state.drainInFlight() { await state.record(try await task.value) }
        await state.releaseSpareBuffers()  // the stream may outlive the upload
        let parts = await state.completedParts()
        let reused = await state.reusedBuffers
        Logger(label: "restore").debug("s3://\(bucket)/\(key): \(parts.count) parts of \(partSize) bytes, \(reused) part buffers reused")
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

/// One part's bytes, owned by its upload task alone.
///
/// `@unchecked Sendable` invariant: created by ``StreamState/takePart()``
/// and from then on used only by the one task uploading the part (which
/// reads ``bytes`` on each attempt, then calls ``take()`` once).
private final class PartBox: @unchecked Sendable {
    private var storage: [UInt8]

    init(_ bytes: consuming [UInt8]) { storage = bytes }

    var bytes: [UInt8] { storage }

    /// Moves the bytes out, leaving the box empty.
    func take() -> [UInt8] {
        let bytes = storage
        storage = []
        return bytes
    }
}

/// The mutable side of a ``MultipartStream``.
private actor StreamState {
    private let partSize: Int
    private var pending: [UInt8] = []
    /// Emptied buffers of uploaded parts, capacity kept.
    private var spare: [[UInt8]] = []
    private var nextPart = 1
    private var inFlight: [Task<(Int, String), any Error>] = []
    private var done: [(Int, String)] = []
    private(set) var reusedBuffers = 0

    init(partSize: Int) {
        self.partSize = partSize
    }

    var pendingCount: Int { pending.count }

    func buffer(_ bytes: ArraySlice<UInt8>) {
        // Reserve the whole part up front (a spare one when there is one):
        // growing by doubling would copy each part about once more and
        // briefly hold the old and the new storage.
        if pending.capacity < partSize {
            if let reused = spare.popLast() {
                pending = reused
                reusedBuffers += 1
            } else {
                pending.reserveCapacity(partSize)
            }
        }
        pending.append(contentsOf: bytes)
    }

    /// The filled part and its number; nil when nothing is pending.
    func takePart() -> (Int, PartBox)? {
        guard !pending.isEmpty else { return nil }
        let part = PartBox(pending)
        pending = []
        defer { nextPart += 1 }
        return (nextPart, part)
    }

    /// Takes back an uploaded part's buffer for reuse.
    func recycle(_ buffer: consuming [UInt8]) {
        // Keeps the storage when this is the last reference; if the store
        // still holds one, this allocates a fresh empty buffer instead,
        // which is no worse than not recycling.
        let before = buffer.withUnsafeBufferPointer { $0.baseAddress }
        buffer.removeAll(keepingCapacity: true)
        let kept = before != nil && buffer.withUnsafeBufferPointer { $0.baseAddress } == before
        guard kept else { return }  // a fresh allocation: not worth keeping
        if buffer.capacity >= partSize && spare.count < MultipartStream.bufferSlots(forPartSize: partSize) {
            spare.append(buffer)
        }
    }

    func releaseSpareBuffers() { spare = [] }

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
