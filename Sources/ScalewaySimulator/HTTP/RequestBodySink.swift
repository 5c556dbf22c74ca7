import CMicroHTTPD
import Crypto
import Foundation

/// Collects one request body as libmicrohttpd hands it over in chunks.
///
/// Bodies up to `memoryLimit` stay in memory (API JSON, small objects);
/// larger ones, or ones announced larger by `Content-Length`, are streamed to
/// a fresh file in the upload directory, so memory stays flat whatever the
/// upload size. It hashes the bytes as they arrive (MD5, and SHA-256 when
/// asked), so handlers never read a large upload back just to hash it.
/// With a ``HTTPBodyPlacement`` the body goes into that region of the
/// handler's file instead (an S3 part into its upload's assembly file).
/// Used by one polling thread at a time.
final class RequestBodySink {
    private let md5 = Digest(.md5)
    private let sha256: Digest?
    private let directory: String
    private let memoryLimit: Int
    private var memory: [UInt8] = []
    private var descriptor: Int32 = -1
    /// Where the next byte goes in the file.
    private var fileOffset: Int64 = 0
    private(set) var filePath: String?
    private(set) var placement: HTTPBodyPlacement?
    private(set) var size: Int64 = 0
    private(set) var failure: (any Error)?

    init(directory: String, expectedLength: Int64?, memoryLimit: Int, hashSHA256: Bool,
         placement: HTTPBodyPlacement? = nil) {
        sha256 = hashSHA256 ? Digest(.sha256) : nil
        self.directory = directory
        self.memoryLimit = memoryLimit
        if let placement, placement.length == expectedLength, openPlacement(placement) {
            self.placement = placement
        } else if let expectedLength, expectedLength > Int64(memoryLimit) {
            openFile(reserving: expectedLength)
        } else if let expectedLength, expectedLength > 0 {
            memory.reserveCapacity(Int(expectedLength))
        }
    }

    /// Appends one chunk; errors are remembered and reported by ``finish()``.
    func append(_ chunk: UnsafeRawBufferPointer) {
        guard failure == nil, chunk.count > 0 else { return }
        size += Int64(chunk.count)
        md5.update(chunk)
        sha256?.update(chunk)
        if descriptor < 0 && memory.count + chunk.count > memoryLimit {
            openFile(reserving: nil)
            guard failure == nil else { return }
            let buffered = memory
            memory = []
            buffered.withUnsafeBytes { write($0) }
        }
        if descriptor >= 0 {
            write(chunk)
        } else {
            memory.append(contentsOf: chunk)
        }
    }

    /// The digests of everything appended; call once, after the last chunk.
    func finishDigests() -> HTTPBodyDigests {
        HTTPBodyDigests(md5: md5.finalize(), sha256: sha256?.finalize())
    }

    /// The complete body; the caller owns the file (if any) from now on.
    func finish() throws -> HTTPRequestBody {
        if descriptor >= 0 {
            if close(descriptor) != 0 && failure == nil {
                failure = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            descriptor = -1
        }
        if let failure { throw failure }
        if let placement { return .placed(placement, size: size) }
        if let filePath { return .file(path: filePath, size: size) }
        return size == 0 ? .none : .bytes(memory)
    }

    /// Drops whatever was received (the request was abandoned).
    func discard() {
        if descriptor >= 0 { close(descriptor); descriptor = -1 }
        if let filePath { unlink(filePath) }
        filePath = nil
        placement?.release()
        placement = nil
        memory = []
    }

    private func openFile(reserving expectedLength: Int64?) {
        let path = directory + "/upload-" + UUID().uuidString
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            failure = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            return
        }
        descriptor = fd
        filePath = path
        if let expectedLength { Self.reserve(fd, offset: 0, length: expectedLength) }
    }

    /// Opens the placement's file; `false` (use an upload file) if it cannot.
    private func openPlacement(_ placement: HTTPBodyPlacement) -> Bool {
        let fd = open(placement.path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        descriptor = fd
        fileOffset = placement.offset
        Self.reserve(fd, offset: placement.offset, length: placement.length)
        return true
    }

    /// Allocates the blocks of a body of known length up front: ext4 then
    /// skips its per-page delayed-allocation bookkeeping while the body is
    /// written (about 0.1 CPU s per GB less). Best effort: file systems
    /// without fallocate just allocate as the bytes arrive.
    private static func reserve(_ fd: Int32, offset: Int64, length: Int64) {
        guard length > 0 else { return }
        _ = cmhd_fallocate(fd, 0, offset, length)
    }

    private func write(_ bytes: UnsafeRawBufferPointer) {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            let written = pwrite(descriptor, base, remaining, off_t(fileOffset))
            if written < 0 {
                if errno == EINTR { continue }
                failure = POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                return
            }
            remaining -= written
            base += written
            fileOffset += Int64(written)
        }
    }
}
