import CMicroHTTPD
import Crypto
import Foundation

/// Streams files through MD5 and SHA-256 in one pass (ETags, Content-MD5,
/// and the SigV4 payload hash of uploads that live on disk).
enum FileDigest {
    struct Result {
        var md5: [UInt8]
        var sha256: [UInt8]?
    }

    /// Hashes `body` (memory or file) with MD5, and SHA-256 when asked.
    static func digest(of body: HTTPRequestBody, sha256 wantSHA256: Bool) throws -> Result {
        switch body {
        case .none:
            return Result(md5: Digest.md5([UInt8]()), sha256: wantSHA256 ? Digest.sha256([UInt8]()) : nil)
        case let .bytes(bytes):
            return Result(md5: Digest.md5(bytes), sha256: wantSHA256 ? Digest.sha256(bytes) : nil)
        case let .file(path, _):
            return try digest(file: path, sha256: wantSHA256)
        case let .placed(placement, size):
            return try digest(file: placement.path, offset: placement.offset, length: size, sha256: wantSHA256)
        }
    }

    /// Hashes the file at `path`; with `partSize`, also returns each part's MD5.
    static func digest(file path: String, offset: Int64 = 0, length: Int64? = nil,
                       sha256 wantSHA256: Bool) throws -> Result {
        let md5 = Digest(.md5)
        let sha = wantSHA256 ? Digest(.sha256) : nil
        try forEachChunk(of: path, offset: offset, length: length) { chunk in
            md5.update(chunk)
            sha?.update(chunk)
        }
        return Result(md5: md5.finalize(), sha256: sha?.finalize())
    }

    /// The MD5 of each `partSize` slice of the file (multipart ETags).
    static func partMD5s(file path: String, partSize: Int64) throws -> [[UInt8]] {
        precondition(partSize > 0)
        var result: [[UInt8]] = []
        var current = Digest(.md5)
        var inPart: Int64 = 0
        try forEachChunk(of: path) { chunk in
            var offset = 0
            while offset < chunk.count {
                let take = Int(min(Int64(chunk.count - offset), partSize - inPart))
                current.update(UnsafeRawBufferPointer(rebasing: chunk[offset..<(offset + take)]))
                offset += take
                inPart += Int64(take)
                if inPart == partSize {
                    result.append(current.finalize())
                    current = Digest(.md5)
                    inPart = 0
                }
            }
        }
        if inPart > 0 || result.isEmpty { result.append(current.finalize()) }
        return result
    }

    /// The multipart ETag (without quotes): MD5 of the concatenated part MD5s, `-N`.
    static func multipartETag(_ partMD5s: [[UInt8]]) -> String {
        Hex.encode(Digest.md5(partMD5s.flatMap { $0 })) + "-\(partMD5s.count)"
    }

    /// Reads `length` bytes from `offset` (default: to the end) in 4 MiB chunks.
    private static func forEachChunk(of path: String, offset: Int64 = 0, length: Int64? = nil,
                                     _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(fd) }
        let size = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var position = off_t(offset)
        var remaining = length ?? Int64.max
        while remaining > 0 {
            let got = pread(fd, buffer.baseAddress, Int(min(Int64(size), remaining)), position)
            if got < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            if got == 0 { return }
            position += off_t(got)
            remaining -= Int64(got)
            body(UnsafeRawBufferPointer(rebasing: buffer[0..<got]))
        }
    }
}

/// File moves and copies for the store.
enum FileMover {
    /// Moves `source` to `destination` (rename; copies across file systems).
    static func move(_ source: String, to destination: String) throws {
        if rename(source, destination) == 0 { return }
        guard errno == EXDEV else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        try copy(source, to: destination)
        unlink(source)
    }

    /// Copies `source` to a new file `destination`.
    static func copy(_ source: String, to destination: String) throws {
        let output = open(destination, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(output) }
        try append(source, to: output)
    }

    /// Appends `length` bytes of `source` from `offset` (default: all of it)
    /// to the open descriptor `output`. The kernel copies (copy_file_range:
    /// a reflink on file systems that share extents; sendfile where the file
    /// systems differ), no user-space pass.
    static func append(_ source: String, offset: Int64 = 0, length: Int64? = nil, to output: Int32) throws {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(input) }
        var remaining: Int64
        if let length {
            remaining = length
        } else {
            var attributes = stat()
            guard fstat(input, &attributes) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            remaining = Int64(attributes.st_size) - offset
        }
        var position = offset
        var inKernel = true
        while remaining > 0 {
            let chunk = Int(min(remaining, 1 << 30))
            let copied: Int
            if inKernel {
                copied = cmhd_copy_file_range(input, &position, output, chunk)
            } else {
                var sent = off_t(position)
                copied = sendfile(output, input, &sent, chunk)
                position = Int64(sent)
            }
            if copied > 0 {
                remaining -= Int64(copied)
                continue
            }
            // The source ended before `length`: the part or object lost bytes.
            if copied == 0 { throw POSIXError(.EIO) }
            if errno == EINTR { continue }
            if inKernel && (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP) {
                inKernel = false
                continue
            }
            if errno == EINVAL || errno == ENOSYS {
                try appendByReading(input, from: off_t(position), remaining, to: output)
                return
            }
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
    }

    private static func appendByReading(_ input: Int32, from start: off_t, _ count: Int64, to output: Int32) throws {
        let size = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        var position = start
        var remaining = count
        while remaining > 0 {
            let got = pread(input, buffer.baseAddress, Int(min(Int64(size), remaining)), position)
            if got < 0 {
                if errno == EINTR { continue }
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            if got == 0 { throw POSIXError(.EIO) }
            position += off_t(got)
            remaining -= Int64(got)
            var written = 0
            while written < got {
                let n = write(output, buffer.baseAddress! + written, got - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
                }
                written += n
            }
        }
    }
}
