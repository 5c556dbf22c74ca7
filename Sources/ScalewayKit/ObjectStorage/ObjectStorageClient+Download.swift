import Foundation

extension ObjectStorageClient {
    /// Downloads one object with parallel ranged GETs.
    ///
    /// The object's ETag from a first HEAD pins every range (`If-Match`), so
    /// a concurrent overwrite fails the download instead of mixing versions.
    /// Each range resumes on its own after a dropped connection.
    ///
    /// - Parameters:
    ///   - concurrency: ranges in flight (default ``ObjectStorageOptions/downloadConcurrency``).
    ///   - write: receives each piece with its offset in the object, on
    ///     transfer threads, concurrently for different ranges.
    /// - Returns: the object's metadata.
    @discardableResult
    public func downloadObject(bucket: String, key: String, concurrency: Int? = nil,
                               write: @escaping @Sendable (Int64, UnsafeRawBufferPointer) throws -> Void) async throws -> ObjectMetadata {
        let meta = try await headObject(bucket: bucket, key: key)
        let rangeSize = options.downloadRangeSize
        let rangeCount = Int((meta.contentLength + rangeSize - 1) / rangeSize)
        let width = max(1, concurrency ?? options.downloadConcurrency)
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            func launch(_ index: Int) {
                let offset = Int64(index) * rangeSize
                let length = min(rangeSize, meta.contentLength - offset)
                group.addTask {
                    let cursor = OffsetCursor(offset)
                    try await self.getObject(bucket: bucket, key: key, range: ByteRange(offset: offset, length: length),
                                             ifMatch: meta.etag) { piece in
                        try write(cursor.advance(by: piece.count), piece)
                    }
                }
            }
            while next < min(rangeCount, width) { launch(next); next += 1 }
            while try await group.next() != nil {
                if next < rangeCount { launch(next); next += 1 }
            }
        }
        return meta
    }

    /// Downloads one object into a file (created or truncated) with parallel
    /// ranged GETs written in place with `pwrite`.
    @discardableResult
    public func downloadObject(bucket: String, key: String, toFile path: String, concurrency: Int? = nil) async throws -> ObjectMetadata {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw ObjectStorageIntegrityError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        return try await downloadObject(bucket: bucket, key: key, concurrency: concurrency) { offset, piece in
            var done = 0
            while done < piece.count {
                let n = pwrite(descriptor, piece.baseAddress! + done, piece.count - done, off_t(offset + Int64(done)))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ObjectStorageIntegrityError("writing \(path) failed: \(String(cString: strerror(errno)))")
                }
                done += n
            }
        }
    }
}

/// The next write offset of one range; used from that range's transfer thread only.
///
/// `@unchecked Sendable` invariant: guarded by `lock` (a resumed range runs on
/// a new thread, after the previous one finished).
final class OffsetCursor: @unchecked Sendable {
    private let lock = NSLock()
    private var offset: Int64

    init(_ offset: Int64) { self.offset = offset }

    /// Returns the current offset and moves past `count` bytes.
    func advance(by count: Int) -> Int64 {
        lock.withLock {
            defer { offset += Int64(count) }
            return offset
        }
    }
}
