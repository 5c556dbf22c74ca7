#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Checks the structure of a whole image before it is trusted: the import
/// policy of its header (``QCOW2Header/checkPolicy(virtualSizeRange:)``), and
/// that every table and cluster it references is aligned and lies inside the
/// file.
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
    ///   misaligned or malformed entry.
    public static func inspect(fileDescriptor fd: Int32, virtualSizeRange: ClosedRange<UInt64>? = nil) throws -> QCOW2Inspection {
        let fileSize = try FileIO.size(of: fd)
        let header = try QCOW2Reader.readHeader(fd, fileSize: fileSize)
        try header.checkPolicy(virtualSizeRange: virtualSizeRange)
        let reader = try QCOW2Reader(fileDescriptor: fd)  // checks the L1 table
        let clusterSize = header.clusterSize
        // The reader checked the L1 table lies in the file when it has entries.
        var required = header.l1Size == 0 ? clusterSize : max(clusterSize, header.l1TableOffset + UInt64(header.l1Size) * 8)

        // Refcount table and blocks.
        let tableOffset = header.refcountTableOffset
        let tableBytes = UInt64(header.refcountTableClusters) * clusterSize
        guard tableOffset & (clusterSize - 1) == 0, tableOffset >= clusterSize else {
            throw QCOW2Error.corrupt("the refcount table offset \(tableOffset) is not a cluster boundary after the header", offset: 48)
        }
        guard header.refcountTableClusters > 0 else {
            throw QCOW2Error.corrupt("the refcount table is empty", offset: 56)
        }
        guard tableOffset <= fileSize, tableBytes <= fileSize - tableOffset else {
            throw QCOW2Error.truncated("the refcount table", needed: tableOffset &+ tableBytes, available: fileSize)
        }
        required = max(required, tableOffset + tableBytes)
        var refcountBlocks: UInt64 = 0
        let cluster = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(clusterSize), alignment: 16)
        defer { cluster.deallocate() }
        for index in 0..<UInt64(header.refcountTableClusters) {
            _ = try FileIO.pread(fd, cluster, at: tableOffset + index * clusterSize)
            let entries = UnsafeRawBufferPointer(cluster)
            for slot in 0..<Int(clusterSize / 8) {
                let entry = entries.loadBE64(at: slot * 8)
                if entry == 0 { continue }
                if entry & 0x1FF != 0 {
                    throw QCOW2Error.corrupt("refcount table entry \(index * clusterSize / 8 + UInt64(slot)) has reserved bits set", offset: tableOffset + index * clusterSize + UInt64(slot * 8))
                }
                if entry & (clusterSize - 1) != 0 {
                    throw QCOW2Error.corrupt("a refcount block lies at the unaligned offset \(entry)", offset: entry)
                }
                guard entry <= fileSize, clusterSize <= fileSize - entry else {
                    throw QCOW2Error.truncated("a refcount block", needed: entry &+ clusterSize, available: fileSize)
                }
                required = max(required, entry + clusterSize)
                refcountBlocks += 1
            }
        }

        // L2 tables and the clusters they map.
        let decoder = reader.decoder
        let l2Entries = header.l2Entries
        var l2Tables: UInt64 = 0, data: UInt64 = 0, compressed: UInt64 = 0, zero: UInt64 = 0
        for l1Index in 0..<UInt64(reader.l1Table.count) {
            guard let l2Offset = try decoder.l2TableOffset(reader.l1Table[Int(l1Index)], l1Index: l1Index) else { continue }
            l2Tables += 1
            required = max(required, l2Offset + clusterSize)
            let entries = try reader.readL2Slice(l2Offset, from: 0, count: Int(l2Entries))
            for (slot, entry) in entries.enumerated() where entry != 0 {
                let virtualCluster = l1Index * l2Entries + UInt64(slot)
                switch try decoder.mapping(entry, cluster: virtualCluster) {
                case .unallocated:
                    break
                case .zero:
                    zero += 1
                case .data(let hostOffset):
                    data += 1
                    required = max(required, hostOffset + clusterSize)
                case .compressed(let hostOffset, _):
                    compressed += 1
                    // The descriptor rounds up to whole sectors; the file
                    // must reach into the last one.
                    let offsetBits = UInt64(62 - (header.clusterBits - 8))
                    let sectors = (entry >> offsetBits) & ((1 << (62 - offsetBits)) - 1)
                    let end = (hostOffset & ~511) + (sectors + 1) * 512
                    required = max(required, end - 511)
                }
            }
        }
        guard required <= fileSize else {
            throw QCOW2Error.truncated("the image's data", needed: required, available: fileSize)
        }
        return QCOW2Inspection(header: header, fileSize: fileSize, requiredFileSize: required,
                               refcountBlockCount: refcountBlocks, l2TableCount: l2Tables,
                               dataClusterCount: data, compressedClusterCount: compressed,
                               zeroClusterCount: zero)
    }
}
