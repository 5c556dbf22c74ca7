import Crypto
import Foundation

/// One multipart part's bytes in memory mapped straight from the kernel.
///
/// Part buffers are large (MiBs) and short-lived. Through `malloc` they end
/// up in per-thread arenas once glibc's dynamic mmap threshold has grown
/// past the part size, and freed parts then stay resident: a 4 GiB upload
/// peaked above 200 MiB. An anonymous mapping is returned to the kernel the
/// moment the part is uploaded, so memory stays at the parts in flight.
///
/// The part's SHA-256 (its signed payload hash, see
/// ``ObjectStorageClient/uploadPart(bucket:key:uploadID:partNumber:body:payloadSHA256:)``)
/// is computed as the bytes are copied in, while they are still in the
/// cache, instead of in a second pass over the whole part before it is sent.
///
/// Filled by a ``PartPipeline``; an upload reads ``bytes`` (or ``body``)
/// and ``sha256``.
///
/// `@unchecked Sendable` invariant: the pipeline fills the buffer and calls
/// ``seal()``, then hands it to one upload task, which only reads it (bytes
/// and the sealed hash). The pipeline writes to it again (``reset()``, then
/// ``append(_:)``) only after that task has finished.
public final class PartBuffer: @unchecked Sendable {
    public let capacity: Int
    public private(set) var count = 0
    private let base: UnsafeMutableRawPointer
    private var digest = Digest(.sha256)
    /// The SHA-256 of the bytes, once the pipeline has sealed the part.
    public private(set) var sha256: [UInt8]?

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        let mapped = mmap(nil, self.capacity, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let mapped, mapped != MAP_FAILED else { fatalError("mmap of a \(capacity)-byte part buffer failed: out of memory") }
        base = mapped
    }

    deinit { munmap(base, capacity) }

    /// Empties the buffer for reuse by another part. The pages stay
    /// mapped and resident, so refilling costs no page faults.
    func reset() {
        count = 0
        digest = Digest(.sha256)
        sha256 = nil
    }

    var isFull: Bool { count == capacity }
    var isEmpty: Bool { count == 0 }

    /// Copies as many bytes as fit; returns how many were taken.
    func append(_ bytes: UnsafeRawBufferPointer) -> Int {
        let taken = min(bytes.count, capacity - count)
        guard taken > 0 else { return 0 }
        precondition(sha256 == nil, "append to a sealed part buffer")
        (base + count).copyMemory(from: bytes.baseAddress!, byteCount: taken)
        digest.update(UnsafeRawBufferPointer(start: base + count, count: taken))
        count += taken
        return taken
    }

    /// Lets `write` put `byteCount` bytes straight into the free end of the
    /// buffer (e.g. decode base64 there), then hashes and keeps them; returns
    /// `false` without calling it when they do not fit. When `write` throws,
    /// nothing is kept (the buffer is as before).
    func append(byteCount: Int, _ write: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows -> Bool {
        guard byteCount <= capacity - count else { return false }
        guard byteCount > 0 else { return true }
        precondition(sha256 == nil, "append to a sealed part buffer")
        let region = UnsafeMutableRawBufferPointer(start: base + count, count: byteCount)
        try write(region)
        digest.update(UnsafeRawBufferPointer(region))
        count += byteCount
        return true
    }

    /// Ends the part: computes its SHA-256 (kept for every upload attempt).
    @discardableResult
    func seal() -> [UInt8] {
        if let sha256 { return sha256 }
        let value = digest.finalize()
        sha256 = value
        return value
    }

    /// The part's bytes (valid while the buffer is alive and not refilled).
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    /// The buffer as a request body (read on the transfer thread, never copied whole).
    public var body: HTTPRequestBody {
        .stream(length: Int64(count)) { PartBufferReader(buffer: self) }
    }
}

/// Reads a ``PartBuffer`` front to back.
struct PartBufferReader: HTTPBodyReader {
    let buffer: PartBuffer
    var offset = 0

    mutating func read(into destination: UnsafeMutableRawBufferPointer) throws -> Int {
        let count = min(destination.count, buffer.count - offset)
        guard count > 0 else { return 0 }
        destination.baseAddress!.copyMemory(from: buffer.bytes.baseAddress! + offset, byteCount: count)
        offset += count
        return count
    }
}
