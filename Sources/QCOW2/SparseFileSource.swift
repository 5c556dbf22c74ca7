#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

// Linux values; Glibc only exports them under _GNU_SOURCE.
#if os(Linux)
private let seekData: Int32 = 3
private let seekHole: Int32 = 4
#else
private let seekData: Int32 = SEEK_DATA
private let seekHole: Int32 = SEEK_HOLE
#endif

/// A ``QCOW2Source`` over a (sparse) file or block device.
///
/// Data extents come from `lseek(seekData)` / `lseek(seekHole)`, so the
/// holes of a sparse file are never read; on a file system without hole
/// reporting the whole file is one extent (zero clusters are still skipped
/// by the writer). Reads use `pread`, so one source may serve several readers.
public final class SparseFileSource: QCOW2Source, Sendable {
    public let fileDescriptor: Int32
    public let virtualSize: UInt64
    private let ownsDescriptor: Bool

    /// Opens `path` read-only; the virtual size defaults to the file size.
    public convenience init(path: String, virtualSize: UInt64? = nil) throws {
        let fd = try FileIO.open(path, O_RDONLY)
        do {
            try self.init(fileDescriptor: fd, virtualSize: virtualSize, takingOwnership: true)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Wraps an open descriptor.
    ///
    /// - Parameters:
    ///   - fileDescriptor: a descriptor opened for reading.
    ///   - virtualSize: the disk size; defaults to the file size. Bytes past
    ///     the end of the file read as zeros.
    ///   - takingOwnership: close the descriptor when the source goes away.
    public init(fileDescriptor: Int32, virtualSize: UInt64? = nil, takingOwnership: Bool = false) throws {
        self.fileDescriptor = fileDescriptor
        self.ownsDescriptor = takingOwnership
        self.virtualSize = try virtualSize ?? FileIO.size(of: fileDescriptor)
    }

    deinit {
        if ownsDescriptor { close(fileDescriptor) }
    }

    public func forEachDataExtent(_ body: (Range<UInt64>) throws -> Void) throws {
        let fileSize = try FileIO.size(of: fileDescriptor)
        let end = min(fileSize, virtualSize)
        var position: UInt64 = 0
        while position < end {
            let dataStart = lseek(fileDescriptor, off_t(position), seekData)
            if dataStart < 0 {
                let code = errno
                if code == ENXIO { return }  // only a hole remains
                if code == EINVAL && position == 0 {
                    try body(0..<end)  // no hole reporting: one extent
                    return
                }
                throw QCOW2Error(.source, "lseek(SEEK_DATA) failed: \(String(cString: strerror(code)))", offset: position, errno: code)
            }
            let start = UInt64(dataStart)
            if start >= end { return }
            let holeStart = lseek(fileDescriptor, dataStart, seekHole)
            if holeStart < 0 {
                let code = errno
                throw QCOW2Error(.source, "lseek(SEEK_HOLE) failed: \(String(cString: strerror(code)))", offset: start, errno: code)
            }
            let stop = min(UInt64(holeStart), end)
            if stop > start { try body(start..<stop) }
            position = max(stop, start + 1)
        }
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        let got: Int
        do {
            got = try FileIO.pread(fileDescriptor, buffer, at: offset)
        } catch let error as QCOW2Error {
            throw QCOW2Error(.source, error.message, offset: error.offset, errno: error.errno)
        }
        if got < buffer.count {
            (buffer.baseAddress! + got).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - got)
        }
    }
}
