#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Checks the structure of a whole image before it is trusted: the import
/// policy of its header (``QCOW2Header/checkPolicy(virtualSizeRange:)``), and
/// that every table and cluster it references is aligned, lies inside the
/// file and does not overlap metadata (``QCOW2StructureCheck``).
///
/// Use it on a received image before uploading or importing it: a transfer
/// cut short fails with reason `truncated`. The check reads the header, the
/// L1 and refcount tables and every L2 table (1/8192 of the data with 64 KiB
/// clusters), never the data; memory stays within one cluster plus the L1
/// table.
public enum QCOW2Inspector {
    /// Inspects the image at `path`.
    public static func inspect(path: String, virtualSizeRange: ClosedRange<UInt64>? = nil) throws -> QCOW2Inspection {
        let fd = try FileIO.open(path, O_RDONLY)
        defer { close(fd) }
        return try inspect(fileDescriptor: fd, virtualSizeRange: virtualSizeRange)
    }

    /// Inspects the image behind a descriptor opened for reading.
    ///
    /// - Throws: ``QCOW2Error``: the header policy reasons, `truncated` when
    ///   something referenced lies past the end of the file, `corrupt` for a
    ///   misaligned, malformed or overlapping entry.
    public static func inspect(fileDescriptor fd: Int32, virtualSizeRange: ClosedRange<UInt64>? = nil) throws -> QCOW2Inspection {
        let fileSize = try FileIO.size(of: fd)
        let header = try QCOW2Reader.readHeader(fd, fileSize: fileSize)
        var check = try QCOW2StructureCheck(header: header, fileSize: fileSize, virtualSizeRange: virtualSizeRange)
        let clusterSize = Int(header.clusterSize)

        // The L1 table (at most 32 MiB), read whole.
        var l1 = [UInt8](repeating: 0, count: check.l1TableRange.count)
        if !l1.isEmpty {
            let got = try l1.withUnsafeMutableBytes { try FileIO.pread(fd, $0, at: check.l1TableRange.lowerBound) }
            guard got == l1.count else {
                throw QCOW2Error.truncated("the L1 table", needed: check.l1TableRange.upperBound, available: fileSize)
            }
        }
        let l2Tables = try l1.withUnsafeBytes { try check.addL1Table($0) }
        l1 = []

        // The refcount table and the L2 tables, one cluster at a time.
        let cluster = UnsafeMutableRawBufferPointer.allocate(byteCount: clusterSize, alignment: 16)
        defer { cluster.deallocate() }
        for offset in stride(from: check.refcountTableRange.lowerBound, to: check.refcountTableRange.upperBound, by: clusterSize) {
            guard try FileIO.pread(fd, cluster, at: offset) == clusterSize else {
                throw QCOW2Error.truncated("the refcount table", needed: check.refcountTableRange.upperBound, available: fileSize)
            }
            try check.addRefcountTable(UnsafeRawBufferPointer(cluster), at: offset)
        }
        for table in l2Tables {
            guard try FileIO.pread(fd, cluster, at: table.offset) == clusterSize else {
                throw QCOW2Error.truncated("an L2 table", needed: table.offset + UInt64(clusterSize), available: fileSize)
            }
            try check.checkL2Table(UnsafeRawBufferPointer(cluster), of: table)
        }
        return try check.finish()
    }
}
