#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// What ``QCOW2Writer/write(toPath:)`` produced.
public struct QCOW2WriteResult: Sendable, Equatable {
    /// Virtual size of the image (the source's, rounded up to 512 bytes).
    public let virtualSize: UInt64
    /// Size of the image file in bytes.
    public let imageSize: UInt64
    /// Entries in the L1 table.
    public let l1Size: UInt64
    /// L2 tables referenced by the L1 table.
    public let l2TableCount: UInt64
    /// Virtual clusters stored (the non-zero ones).
    public let dataClusterCount: UInt64
}

extension QCOW2Writer {
    /// Writes the image to `path` (created or truncated) reading the source
    /// only once: the output is a seekable file, so the data clusters go out
    /// as they are read and the tables are written around them.
    ///
    /// Layout: the metadata area is reserved up front from the source's
    /// extents (one L2 table per 512 MiB region an extent touches, refcount
    /// blocks for the largest possible file), then the non-zero clusters
    /// follow in virtual order. Reserved refcount blocks that turn out
    /// unneeded stay unreferenced with refcount 0 (free clusters, as
    /// `qemu-img check` sees them). Each L2 table is written when the data
    /// passes its region, so memory stays at one table plus a 4 MiB buffer.
    ///
    /// The source's extents must come in increasing order (as
    /// ``QCOW2Source`` requires) and be the same on both enumerations.
    @discardableResult
    public func write(toPath path: String) throws -> QCOW2WriteResult {
        let fd = try FileIO.open(path, O_RDWR | O_CREAT | O_TRUNC)
        defer { close(fd) }
        return try writeSinglePass(toFileDescriptor: fd)
    }

    /// Writes the image into an empty, seekable file descriptor opened for
    /// writing, reading the source once; see ``write(toPath:)``.
    public func writeSinglePass(toFileDescriptor fd: Int32) throws -> QCOW2WriteResult {
        let sourceSize = source.virtualSize
        let virtualSize = sourceSize > UInt64.max - 511 ? sourceSize : (sourceSize + 511) & ~511
        guard virtualSize <= Self.maximumVirtualSize else {
            throw QCOW2Error(.virtualSize, "virtual size \(virtualSize) exceeds the writer's limit of \(Self.maximumVirtualSize) bytes")
        }
        let clusterBits = UInt64(Self.clusterBits)
        let clusterSize = UInt64(1) << clusterBits
        let l2Entries = clusterSize / 8
        let virtualClusters = (virtualSize + clusterSize - 1) / clusterSize
        let l1Size = (virtualClusters + l2Entries - 1) / l2Entries
        let l1Clusters = max(1, (l1Size * 8 + clusterSize - 1) / clusterSize)

        // First enumeration: which L2 regions hold data, and at most how
        // many clusters.
        var slots = [Int32](repeating: -1, count: Int(l1Size))
        var l2Count: UInt64 = 0
        var clusterBound: UInt64 = 0
        var previousEnd: UInt64 = 0
        try source.forEachDataExtent { extent in
            let low = min(extent.lowerBound, sourceSize), high = min(extent.upperBound, sourceSize)
            guard low < high else { return }
            guard low >= previousEnd else {
                throw QCOW2Error(.source, "the source's data extents are not in increasing order (\(low) after \(previousEnd))", offset: low)
            }
            previousEnd = high
            let first = low / clusterSize, last = (high - 1) / clusterSize
            clusterBound += last - first + 1
            for region in (first / l2Entries)...(last / l2Entries) where slots[Int(region)] < 0 {
                slots[Int(region)] = Int32(l2Count)
                l2Count += 1
            }
        }

        // Reserve refcount blocks for the largest file these bounds allow.
        let refcountsPerBlock = clusterSize / 2
        let fixed = 1 + l1Clusters + l2Count + clusterBound
        var blocks: UInt64 = 0, tableClusters: UInt64 = 1
        while true {
            let newBlocks = (fixed + tableClusters + blocks + refcountsPerBlock - 1) / refcountsPerBlock
            let newTable = max(1, (newBlocks * 8 + clusterSize - 1) / clusterSize)
            if newBlocks == blocks && newTable == tableClusters { break }
            blocks = newBlocks
            tableClusters = newTable
        }
        let refcountTableOffset = (1 + l1Clusters) * clusterSize
        let refcountBlocksOffset = refcountTableOffset + tableClusters * clusterSize
        let l2Offset = refcountBlocksOffset + blocks * clusterSize
        let dataOffset = l2Offset + l2Count * clusterSize

        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 4096)
        defer { buffer.deallocate() }
        let table = UnsafeMutableRawBufferPointer.allocate(byteCount: Int(clusterSize), alignment: 4096)
        defer { table.deallocate() }
        let copied: UInt64 = 1 << 63

        // Header and L1 table are known now.
        let header = QCOW2Header(virtualSize: virtualSize, clusterBits: Self.clusterBits, l1Size: UInt32(l1Size),
                                 l1TableOffset: clusterSize, refcountTableOffset: refcountTableOffset,
                                 refcountTableClusters: UInt32(tableClusters))
        try header.encoded().withUnsafeBytes { try FileIO.pwriteAll(fd, $0, at: 0) }
        for cluster in 0..<l1Clusters {
            table.initializeMemory(as: UInt8.self, repeating: 0)
            for slot in 0..<l2Entries {
                let index = cluster * l2Entries + slot
                guard index < l1Size else { break }
                let l2 = slots[Int(index)]
                if l2 >= 0 { table.storeBE64((l2Offset + UInt64(l2) * clusterSize) | copied, at: Int(slot * 8)) }
            }
            try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(table), at: clusterSize * (1 + cluster))
        }

        // Second enumeration: data clusters out as they are read; each L2
        // table written when the data leaves its region.
        var region: UInt64? = nil
        var tableDirty = false
        var nextHost = dataOffset
        var nextCluster: UInt64 = 0  // clusters below this are done
        var dataClusters: UInt64 = 0
        func flushTable() throws {
            guard let current = region, tableDirty else { return }
            try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(table), at: l2Offset + UInt64(slots[Int(current)]) * clusterSize)
            tableDirty = false
        }
        let bufferClusters = UInt64(Self.bufferSize) / clusterSize
        let zeros = ZeroBlock.shared
        try source.forEachDataExtent { extent in
            let low = min(extent.lowerBound, sourceSize), high = min(extent.upperBound, sourceSize)
            guard low < high else { return }
            var cluster = max(low / clusterSize, nextCluster)
            let endCluster = (high + clusterSize - 1) / clusterSize
            while cluster < endCluster {
                // Stay within one L2 region per chunk.
                let regionEnd = (cluster / l2Entries + 1) * l2Entries
                let count = min(endCluster - cluster, bufferClusters, regionEnd - cluster)
                let start = cluster * clusterSize
                let length = Int(min(count * clusterSize, virtualSize - start))
                let readable = Int(min(UInt64(length), sourceSize - start))
                try source.read(at: start, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<readable]))
                let padded = Int(count * clusterSize)
                if readable < padded {
                    (buffer.baseAddress! + readable).initializeMemory(as: UInt8.self, repeating: 0, count: padded - readable)
                }
                let thisRegion = cluster / l2Entries
                if region != thisRegion {
                    try flushTable()
                    guard slots[Int(thisRegion)] >= 0 else {
                        throw QCOW2Error(.source, "the source's data extents changed while the image was written", offset: start)
                    }
                    region = thisRegion
                    table.initializeMemory(as: UInt8.self, repeating: 0)
                }
                // Compact the non-zero clusters to the front of the buffer.
                var kept = 0
                for index in 0..<Int(count) {
                    let from = buffer.baseAddress! + index * Int(clusterSize)
                    if zeros.isZero(from, count: Int(clusterSize)) { continue }
                    guard dataClusters < clusterBound else {
                        throw QCOW2Error(.source, "the source's data extents changed while the image was written", offset: start)
                    }
                    if kept != index {
                        (buffer.baseAddress! + kept * Int(clusterSize)).copyMemory(from: from, byteCount: Int(clusterSize))
                    }
                    let slot = (cluster + UInt64(index)) % l2Entries
                    table.storeBE64((nextHost + UInt64(kept) * clusterSize) | copied, at: Int(slot * 8))
                    tableDirty = true
                    kept += 1
                }
                if kept > 0 {
                    let bytes = kept * Int(clusterSize)
                    try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(rebasing: buffer[0..<bytes]), at: nextHost)
                    nextHost += UInt64(bytes)
                    dataClusters += UInt64(kept)
                }
                cluster += count
                nextCluster = cluster
            }
        }
        try flushTable()

        // Refcounts: every cluster up to the end of the data is used once,
        // except the reserved refcount blocks that were not needed.
        let totalClusters = nextHost / clusterSize
        let usedBlocks = (totalClusters + refcountsPerBlock - 1) / refcountsPerBlock
        guard usedBlocks <= blocks else {
            throw QCOW2Error(.corrupt, "internal layout error: \(usedBlocks) refcount blocks needed, \(blocks) reserved; report this bug")
        }
        let unusedStart = refcountBlocksOffset / clusterSize + usedBlocks
        let unusedEnd = refcountBlocksOffset / clusterSize + blocks
        var blockIndex: UInt64 = 0
        for cluster in 0..<tableClusters {
            table.initializeMemory(as: UInt8.self, repeating: 0)
            for slot in 0..<l2Entries where blockIndex < usedBlocks {
                table.storeBE64(refcountBlocksOffset + blockIndex * clusterSize, at: Int(slot * 8))
                blockIndex += 1
            }
            try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(table), at: refcountTableOffset + cluster * clusterSize)
        }
        for block in 0..<usedBlocks {
            table.initializeMemory(as: UInt8.self, repeating: 0)
            let first = block * refcountsPerBlock
            for entry in 0..<refcountsPerBlock {
                let cluster = first + entry
                if cluster >= totalClusters { break }
                if cluster >= unusedStart && cluster < unusedEnd { continue }
                table.storeBE16(1, at: Int(entry * 2))
            }
            try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(table), at: refcountBlocksOffset + block * clusterSize)
        }
        // The file must reach the end of the reserved tables even when no
        // data follows them.
        guard ftruncate(fd, off_t(nextHost)) == 0 else {
            let code = errno
            throw QCOW2Error(.io, "cannot size the image to \(nextHost) bytes: \(String(cString: strerror(code)))", errno: code)
        }
        return QCOW2WriteResult(virtualSize: virtualSize, imageSize: nextHost, l1Size: l1Size,
                                l2TableCount: l2Count, dataClusterCount: dataClusters)
    }
}
