#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Writes a QCOW2 version 3 image of a sparse virtual disk, streaming, with
/// bounded memory.
///
/// The image has 64 KiB clusters, 16-bit refcounts, no compression, no
/// extension but the end marker; clusters that are entirely zero (holes of
/// the source and zero runs inside its data) stay unallocated.
///
/// Writing takes two passes over the source's data extents:
/// 1. ``plan()`` reads them to find the non-zero clusters and computes the
///    whole layout (``QCOW2WritePlan``): the metadata then precedes the data
///    and the file is produced front to back, without seeking, so it can go
///    to a pipe or straight into an upload whose size
///    (``QCOW2WritePlan/imageSize``) is known up front;
/// 2. ``write(_:into:)`` emits header, L1 table, refcount table and blocks,
///    L2 tables, then the data clusters.
///
/// Memory: the plan's allocation bitmap (2 MiB per TiB of virtual size) plus
/// a 4 MiB I/O buffer. Virtual sizes up to ``maximumVirtualSize``.
///
/// To a seekable file, ``write(toPath:)`` does the same in a single pass
/// over the source (metadata reserved up front, tables written around the
/// data).
///
/// ```swift
/// let writer = QCOW2Writer(source: try SparseFileSource(path: "disk.raw"))
/// try writer.write(toPath: "disk.qcow2")                  // one pass, seekable file
/// let plan = try writer.plan()                             // or: exact size first,
/// try writer.write(plan, toFileDescriptor: uploadPipe)     // then strictly sequential
/// ```
public struct QCOW2Writer {
    /// `cluster_bits` of written images (64 KiB clusters).
    public static let clusterBits: UInt32 = 16
    /// Largest virtual size accepted (64 TiB; the allocation bitmap is then 128 MiB).
    public static let maximumVirtualSize: UInt64 = 64 << 40
    /// Size of the I/O buffer; a multiple of the cluster size.
    static let bufferSize = 4 << 20

    public let source: any QCOW2Source

    public init(source: any QCOW2Source) {
        self.source = source
    }

    /// Scans the source for non-zero clusters and lays the image out.
    ///
    /// The image's virtual size is the source's rounded up to a multiple of
    /// 512 bytes: QEMU counts disks in sectors and ignores a partial last one.
    public func plan() throws -> QCOW2WritePlan {
        let sourceSize = source.virtualSize
        let virtualSize = sourceSize > UInt64.max - 511 ? sourceSize : (sourceSize + 511) & ~511
        guard virtualSize <= Self.maximumVirtualSize else {
            throw QCOW2Error(.virtualSize, "virtual size \(virtualSize) exceeds the writer's limit of \(Self.maximumVirtualSize) bytes")
        }
        let clusterSize = UInt64(1) << UInt64(Self.clusterBits)
        let clusters = (virtualSize + clusterSize - 1) / clusterSize
        var bitmap = [UInt64](repeating: 0, count: Int((clusters + 63) / 64))
        let bufferClusters = UInt64(Self.bufferSize) / clusterSize
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.bufferSize, alignment: 4096)
        defer { buffer.deallocate() }
        let zeros = ZeroBlock.shared

        try source.forEachDataExtent { extent in
            let low = min(extent.lowerBound, sourceSize)
            let high = min(extent.upperBound, sourceSize)
            guard low < high else { return }
            var cluster = low / clusterSize
            let endCluster = (high + clusterSize - 1) / clusterSize
            while cluster < endCluster {
                let count = min(endCluster - cluster, bufferClusters)
                let start = cluster * clusterSize
                let length = Int(min(count * clusterSize, virtualSize - start))
                let readable = Int(min(UInt64(length), sourceSize - start))
                try source.read(at: start, into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<readable]))
                if readable < length {
                    (buffer.baseAddress! + readable).initializeMemory(as: UInt8.self, repeating: 0, count: length - readable)
                }
                for index in 0..<count {
                    let c = cluster + index
                    if bitmap[Int(c >> 6)] & (1 << (c & 63)) != 0 { continue }
                    let offset = Int(index * clusterSize)
                    let size = min(Int(clusterSize), length - offset)
                    if !zeros.isZero(UnsafeRawPointer(buffer.baseAddress! + offset), count: size) {
                        bitmap[Int(c >> 6)] |= 1 << (c & 63)
                    }
                }
                cluster += count
            }
        }
        return QCOW2WritePlan(virtualSize: virtualSize, clusterBits: Self.clusterBits, allocation: bitmap)
    }

    /// Emits the image of `plan` front to back.
    ///
    /// - Parameters:
    ///   - plan: the layout from ``plan()`` on this writer's source.
    ///   - sink: receives the image bytes in order, in pieces of at most
    ///     4 MiB; the buffer is only valid during the call.
    public func write(_ plan: QCOW2WritePlan, into sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        try withoutActuallyEscaping(sink) { try emit(plan, into: $0) }
    }

    private func emit(_ plan: QCOW2WritePlan, into sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        let clusterSize = plan.clusterSize
        let output = OutputBuffer(capacity: Self.bufferSize, sink: sink)
        defer { output.deallocate() }

        // Header cluster.
        let header = QCOW2Header(virtualSize: plan.virtualSize, clusterBits: plan.clusterBits,
                                 l1Size: UInt32(plan.l1Size), l1TableOffset: plan.l1TableOffset,
                                 refcountTableOffset: plan.refcountTableOffset,
                                 refcountTableClusters: UInt32(plan.refcountTableClusters))
        let headerBytes = header.encoded()
        try output.appendCluster(clusterSize) { cluster in
            headerBytes.withUnsafeBytes { cluster.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        }

        // L1 table: L2 tables are consecutive, in virtual order.
        let copied: UInt64 = 1 << 63
        var l1Index: UInt64 = 0
        var nextL2 = plan.l2TablesOffset
        let entriesPerCluster = clusterSize / 8
        for _ in 0..<plan.l1Clusters {
            try output.appendCluster(clusterSize) { cluster in
                for slot in 0..<entriesPerCluster where l1Index < plan.l1Size {
                    if plan.l1EntryHasData(l1Index) {
                        cluster.storeBE64(nextL2 | copied, at: Int(slot * 8))
                        nextL2 += clusterSize
                    }
                    l1Index += 1
                }
            }
        }

        // Refcount table, then blocks: every cluster of the file is used once.
        var blockIndex: UInt64 = 0
        for _ in 0..<plan.refcountTableClusters {
            try output.appendCluster(clusterSize) { cluster in
                for slot in 0..<entriesPerCluster where blockIndex < plan.refcountBlockCount {
                    cluster.storeBE64(plan.refcountBlocksOffset + blockIndex * clusterSize, at: Int(slot * 8))
                    blockIndex += 1
                }
            }
        }
        let refcountsPerBlock = clusterSize / 2
        for block in 0..<plan.refcountBlockCount {
            let first = block * refcountsPerBlock
            let used = min(refcountsPerBlock, plan.totalClusters - first)
            try output.appendCluster(clusterSize) { cluster in
                for entry in 0..<Int(used) { cluster.storeBE16(1, at: entry * 2) }
            }
        }

        // L2 tables: data clusters are consecutive, in virtual order.
        var nextData = plan.dataOffset
        let virtualClusters = plan.virtualClusterCount
        for region in 0..<plan.l1Size where plan.l1EntryHasData(region) {
            let first = region * plan.l2Entries
            try output.appendCluster(clusterSize) { cluster in
                let last = min(first + plan.l2Entries, virtualClusters)
                for c in first..<last where plan.isAllocated(c) {
                    cluster.storeBE64(nextData | copied, at: Int((c - first) * 8))
                    nextData += clusterSize
                }
            }
        }

        // Data clusters, read in runs of consecutive allocated clusters.
        let bufferClusters = UInt64(Self.bufferSize) / clusterSize
        var cluster: UInt64 = 0
        while cluster < virtualClusters {
            guard plan.isAllocated(cluster) else {
                // Skip whole empty words quickly.
                if cluster & 63 == 0, plan.allocation[Int(cluster >> 6)] == 0 { cluster += 64 } else { cluster += 1 }
                continue
            }
            var run: UInt64 = 1
            while run < bufferClusters, cluster + run < virtualClusters, plan.isAllocated(cluster + run) { run += 1 }
            let start = cluster * clusterSize
            let length = Int(run * clusterSize)
            let readable = Int(min(UInt64(length), source.virtualSize - start))
            let region = try output.reserve(length)
            try source.read(at: start, into: UnsafeMutableRawBufferPointer(rebasing: region[0..<readable]))
            if readable < length {
                (region.baseAddress! + readable).initializeMemory(as: UInt8.self, repeating: 0, count: length - readable)
            }
            cluster += run
        }
        try output.flush()
        guard output.emitted == plan.imageSize else {
            throw QCOW2Error(.corrupt, "internal layout error: wrote \(output.emitted) bytes, planned \(plan.imageSize); report this bug")
        }
    }

    /// Emits the image of `plan` to a file descriptor with sequential
    /// `write(2)` calls (a pipe, a socket or a file at its current position).
    public func write(_ plan: QCOW2WritePlan, toFileDescriptor fd: Int32) throws {
        try write(plan) { try FileIO.writeAll(fd, $0) }
    }
}

/// Accumulates output into one buffer and hands it to the sink when full.
private final class OutputBuffer {
    let buffer: UnsafeMutableRawBufferPointer
    let sink: (UnsafeRawBufferPointer) throws -> Void
    var used = 0
    var emitted: UInt64 = 0

    init(capacity: Int, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) {
        buffer = .allocate(byteCount: capacity, alignment: 4096)
        self.sink = sink
    }

    func deallocate() { buffer.deallocate() }

    /// Space for `count` bytes (at most the capacity) the caller must fill.
    func reserve(_ count: Int) throws -> UnsafeMutableRawBufferPointer {
        if used + count > buffer.count { try flush() }
        let region = UnsafeMutableRawBufferPointer(rebasing: buffer[used..<(used + count)])
        used += count
        emitted += UInt64(count)
        return region
    }

    /// Appends one zeroed cluster that `fill` completes.
    func appendCluster(_ size: UInt64, _ fill: (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let region = try reserve(Int(size))
        region.initializeMemory(as: UInt8.self, repeating: 0)
        try fill(region)
    }

    func flush() throws {
        guard used > 0 else { return }
        try sink(UnsafeRawBufferPointer(rebasing: buffer[0..<used]))
        used = 0
    }
}
