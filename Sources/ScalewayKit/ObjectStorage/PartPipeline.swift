/// The part bookkeeping of a streaming multipart upload, shared by
/// ``MultipartUploadWriter`` and the restore flow's stream (which uploads
/// through its own store abstraction): bytes fill a ``PartBuffer`` (hashed as
/// they are copied in), a full part is sealed and handed to an upload task,
/// at most ``inFlightLimit(partSize:memoryBudget:concurrency:)`` tasks run,
/// and an uploaded part's buffer is refilled by a later part.
///
/// A value type with synchronous methods, kept inside its owner's actor; the
/// owner awaits the tasks it is handed, so the pipeline never suspends:
///
/// ```swift
/// while !bytes.isEmpty {
///     bytes = bytes.dropFirst(pipeline.fill(bytes, partSize: size))
///     guard pipeline.hasFullPart else { continue }
///     pipeline.launch { number, part in try await upload(number, part) }
///     while let oldest = pipeline.oldest(beyond: limit) {
///         pipeline.collect(oldest, result: try await oldest.task.value)
///     }
/// }
/// ```
///
/// A full part starts uploading at once; only then does the owner wait for
/// the oldest upload, whose buffer the next part fills. So at most
/// `limit + 1` buffers ever exist (`limit` uploading and one filling, or
/// `limit + 1` uploading while the owner waits), and memory is the owner's
/// budget whatever the object's size. Buffers are reused rather than
/// unmapped and mapped again: a fresh mapping costs a page fault per 4 KiB
/// as it fills.
public struct PartPipeline: Sendable {
    /// A part being uploaded.
    public struct InFlight: Sendable {
        public let number: Int
        public let buffer: PartBuffer
        public let task: Task<CompletedPart, any Error>
    }

    private var filling: PartBuffer?
    private var spare: [PartBuffer] = []
    private var inFlight: [InFlight] = []
    /// Parts uploaded and collected, in collection order.
    public private(set) var completed: [CompletedPart] = []
    /// The number the next launched part gets (1-based).
    public private(set) var nextPartNumber = 1
    /// Parts that were filled into the buffer of an earlier, uploaded part.
    public private(set) var reusedBuffers = 0

    public init() {}

    /// Uploads that may run while the next part fills, for parts of
    /// `partSize` bytes: as many as `memoryBudget` holds besides the part
    /// filling, within `concurrency`, and at least one (a part uploads while
    /// the next fills, whatever its size).
    public static func inFlightLimit(partSize: Int64, memoryBudget: Int64, concurrency: Int = .max) -> Int {
        max(1, min(concurrency, Int(memoryBudget / max(1, partSize)) - 1))
    }

    /// Copies as much of `bytes` as fits into the part filling (a part of
    /// `partSize` bytes, started when none is); returns how many were taken.
    public mutating func fill(_ bytes: UnsafeRawBufferPointer, partSize: Int) -> Int {
        fillingPart(partSize).append(bytes)
    }

    /// Copies as much of `bytes` as fits; returns how many were taken.
    public mutating func fill(_ bytes: ArraySlice<UInt8>, partSize: Int) -> Int {
        bytes.withUnsafeBytes { fill($0, partSize: partSize) }
    }

    /// Lets `write` put `byteCount` bytes straight into the part filling (a
    /// part of `partSize` bytes, started when none is), with no buffer of
    /// their own in between; returns `false`, taking nothing, when they do
    /// not fit in what the part has left (then ``fill(_:partSize:)`` them).
    /// When `write` throws, the part is as before.
    ///
    /// The restore path decodes each `write`'s base64 here: 1 MiB chunks
    /// into parts of whole MiB always fit.
    public mutating func fill(byteCount: Int, partSize: Int,
                              _ write: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> Bool {
        try fillingPart(partSize).append(byteCount: byteCount, write)
    }

    /// Whether the part filling is full (launch it before filling more).
    public var hasFullPart: Bool { filling?.isFull ?? false }

    /// Whether a part has bytes not launched yet.
    public var hasPendingBytes: Bool { !(filling?.isEmpty ?? true) }

    /// The part filling, for an owner that sends a small object in one PUT
    /// instead (sealed: its hash is final).
    public func sealedFillingPart() -> PartBuffer {
        let part = filling ?? PartBuffer(capacity: 1)
        part.seal()
        return part
    }

    /// The oldest upload, removed from the pipeline, when more than `limit`
    /// are in flight: await it and give it to ``collect(_:result:)`` before
    /// filling another part.
    public mutating func oldest(beyond limit: Int) -> InFlight? {
        inFlight.count > max(0, limit) ? inFlight.removeFirst() : nil
    }

    /// Every upload in flight, removed from the pipeline (to await at the
    /// end, or cancel).
    public mutating func drain() -> [InFlight] {
        defer { inFlight = [] }
        return inFlight
    }

    /// Seals the part filling and starts its upload; returns its number.
    /// `upload` runs in a task of its own and reads the part (``PartBuffer/bytes``
    /// or ``PartBuffer/body``, and ``PartBuffer/sha256``) until it returns.
    @discardableResult
    public mutating func launch(_ upload: @escaping @Sendable (_ number: Int, _ part: PartBuffer) async throws -> CompletedPart) -> Int {
        guard let part = filling, !part.isEmpty else { return nextPartNumber - 1 }
        filling = nil
        part.seal()
        let number = nextPartNumber
        nextPartNumber += 1
        inFlight.append(InFlight(number: number, buffer: part, task: Task { try await upload(number, part) }))
        return number
    }

    /// Records an awaited upload; its buffer is kept for a later part (the
    /// task has finished reading it).
    public mutating func collect(_ part: InFlight, result: CompletedPart) {
        completed.append(result)
        spare.append(part.buffer)
    }

    /// Unmaps the spare buffers (the owner may outlive the upload).
    public mutating func releaseSpareBuffers() { spare = [] }

    /// Drops every buffer and forgets the uploads (after ``drain()`` on abort).
    public mutating func discard() {
        filling = nil
        spare = []
        inFlight = []
    }

    /// The part filling, started (`partSize` bytes) when none is.
    private mutating func fillingPart(_ partSize: Int) -> PartBuffer {
        let part = filling ?? takeBuffer(capacity: partSize)
        filling = part
        return part
    }

    /// An empty buffer of `capacity` bytes, a spare one when one fits.
    private mutating func takeBuffer(capacity: Int) -> PartBuffer {
        while let reused = spare.popLast() {
            if reused.capacity == max(1, capacity) {
                reused.reset()
                reusedBuffers += 1
                return reused
            }
        }
        return PartBuffer(capacity: capacity)
    }
}
