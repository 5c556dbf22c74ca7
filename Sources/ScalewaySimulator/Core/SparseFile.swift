import Crypto
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A failed file operation on a volume or snapshot content file.
public struct SparseFileError: Error, CustomStringConvertible {
    public var operation: String
    public var path: String
    public var errno: Int32

    public var description: String {
        "\(operation) \(path): \(String(cString: strerror(errno))) (check the state directory's disk space and permissions)"
    }
}

/// Volume contents stored as sparse files.
///
/// A 20 GB volume with 100 MB written occupies 100 MB on disk: the file is
/// sized with `ftruncate` and only written regions hold blocks. Readers find
/// the written regions with `SEEK_DATA`/`SEEK_HOLE`, so digests and exports
/// never read the holes.
enum SparseFile {
    /// Linux values of `SEEK_DATA` and `SEEK_HOLE`.
    private static let seekData: Int32 = 3
    private static let seekHole: Int32 = 4
    static let chunkSize = 1 << 20

    /// Creates (or truncates) `path` as an all-zero file of `size` bytes.
    static func create(at path: String, size: Int64) throws {
        let fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
        guard fd >= 0 else { throw SparseFileError(operation: "create", path: path, errno: errno) }
        defer { close(fd) }
        guard ftruncate(fd, off_t(size)) == 0 else { throw SparseFileError(operation: "truncate", path: path, errno: errno) }
    }

    /// The file's logical size.
    static func size(of path: String) throws -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SparseFileError(operation: "stat", path: path, errno: errno) }
        return Int64(info.st_size)
    }

    /// The written (non-hole) regions of `path`, in order, as `(offset, length)`.
    ///
    /// File systems without `SEEK_DATA` report the whole file as data, which
    /// is still correct, only slower.
    static func dataExtents(of path: String) throws -> [(offset: Int64, length: Int64)] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SparseFileError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        return dataExtents(fd: fd, size: try size(of: path))
    }

    static func dataExtents(fd: Int32, size: Int64) -> [(offset: Int64, length: Int64)] {
        var extents: [(offset: Int64, length: Int64)] = []
        var position: Int64 = 0
        while position < size {
            let dataStart = lseek(fd, off_t(position), seekData)
            if dataStart < 0 {
                if errno == ENXIO { break } // only a hole remains
                return [(0, size)]
            }
            var holeStart = Int64(lseek(fd, dataStart, seekHole))
            if holeStart < 0 { holeStart = size }
            let end = min(holeStart, size)
            if end > Int64(dataStart) { extents.append((Int64(dataStart), end - Int64(dataStart))) }
            position = end
        }
        return extents
    }

    /// Copies `source` to `destination` keeping holes, and sizes the copy
    /// to `size` (at least the source's size).
    static func copy(from source: String, to destination: String, size: Int64? = nil) throws {
        let input = open(source, O_RDONLY)
        guard input >= 0 else { throw SparseFileError(operation: "open", path: source, errno: errno) }
        defer { close(input) }
        let sourceSize = try self.size(of: source)
        let output = open(destination, O_CREAT | O_TRUNC | O_WRONLY, 0o644)
        guard output >= 0 else { throw SparseFileError(operation: "create", path: destination, errno: errno) }
        defer { close(output) }
        guard ftruncate(output, off_t(max(size ?? sourceSize, sourceSize))) == 0 else {
            throw SparseFileError(operation: "truncate", path: destination, errno: errno)
        }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        for extent in dataExtents(fd: input, size: sourceSize) {
            var offset = extent.offset
            let end = extent.offset + extent.length
            while offset < end {
                let want = Int(min(Int64(chunkSize), end - offset))
                let got = pread(input, buffer, want, off_t(offset))
                guard got > 0 else { throw SparseFileError(operation: "read", path: source, errno: got < 0 ? errno : EIO) }
                try writeFully(output, buffer, got, at: offset, path: destination)
                offset += Int64(got)
            }
        }
    }

    static func writeFully(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int, at offset: Int64, path: String) throws {
        var done = 0
        while done < count {
            let wrote = pwrite(fd, buffer + done, count - done, off_t(offset + Int64(done)))
            guard wrote > 0 else { throw SparseFileError(operation: "write", path: path, errno: wrote < 0 ? errno : EIO) }
            done += wrote
        }
    }

    /// SHA-256 of the file's full logical content (holes hash as zeros).
    static func sha256(of path: String) throws -> (digest: String, size: Int64) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SparseFileError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        let size = try self.size(of: path)
        let digest = Digest(.sha256)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        let zeros = UnsafeMutableRawPointer.allocate(byteCount: chunkSize, alignment: 4096)
        defer { zeros.deallocate() }
        memset(zeros, 0, chunkSize)
        func hashZeros(_ count: Int64) {
            var left = count
            while left > 0 {
                let n = Int(min(Int64(chunkSize), left))
                digest.update(UnsafeRawBufferPointer(start: zeros, count: n))
                left -= Int64(n)
            }
        }
        var position: Int64 = 0
        for extent in dataExtents(fd: fd, size: size) {
            hashZeros(extent.offset - position)
            var offset = extent.offset
            let end = extent.offset + extent.length
            while offset < end {
                let want = Int(min(Int64(chunkSize), end - offset))
                let got = pread(fd, buffer, want, off_t(offset))
                guard got > 0 else { throw SparseFileError(operation: "read", path: path, errno: got < 0 ? errno : EIO) }
                digest.update(UnsafeRawBufferPointer(start: buffer, count: got))
                offset += Int64(got)
            }
            position = end
        }
        hashZeros(size - position)
        return (Hex.encode(digest.finalize()), size)
    }

    /// Bytes actually allocated on disk (for reports and tests of sparseness).
    static func allocatedBytes(of path: String) -> Int64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return Int64(info.st_blocks) * 512
    }
}
