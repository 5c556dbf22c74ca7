/// The complete layout of an image a ``QCOW2Writer`` is about to write.
///
/// Built by ``QCOW2Writer/plan()`` after one scan of the source, so the image
/// can then be written strictly sequentially (to a pipe or an upload) and its
/// exact size is known before the first byte goes out (``imageSize``, e.g.
/// for a `Content-Length`).
///
/// Layout, every part cluster-aligned and each cluster used exactly once:
///
///     cluster 0            header + end-of-extensions marker
///     L1 table             l1Clusters
///     refcount table       refcountTableClusters
///     refcount blocks      refcountBlockCount (16-bit refcounts, all 1 up to the end of file)
///     L2 tables            one per L1 entry that covers data, in virtual order
///     data clusters        one per non-zero virtual cluster, in virtual order
///
/// Memory: one bit per virtual cluster (2 MiB per TiB of virtual size).
public struct QCOW2WritePlan: Sendable {
    public let virtualSize: UInt64
    public let clusterBits: UInt32
    /// Entries in the L1 table.
    public let l1Size: UInt64
    public let l1Clusters: UInt64
    public let refcountTableClusters: UInt64
    public let refcountBlockCount: UInt64
    /// L2 tables written (one per 512 MiB region holding data).
    public let l2TableCount: UInt64
    /// Virtual clusters holding non-zero data.
    public let dataClusterCount: UInt64
    /// Clusters in the image file.
    public let totalClusters: UInt64

    /// One bit per virtual cluster: set when the cluster holds non-zero bytes.
    let allocation: [UInt64]

    public var clusterSize: UInt64 { 1 << UInt64(clusterBits) }
    /// Exact size in bytes of the image file.
    public var imageSize: UInt64 { totalClusters << UInt64(clusterBits) }
    /// Bytes of the virtual disk stored as data clusters.
    public var dataBytes: UInt64 { dataClusterCount << UInt64(clusterBits) }

    public var l1TableOffset: UInt64 { clusterSize }
    public var refcountTableOffset: UInt64 { (1 + l1Clusters) * clusterSize }
    public var refcountBlocksOffset: UInt64 { refcountTableOffset + refcountTableClusters * clusterSize }
    public var l2TablesOffset: UInt64 { refcountBlocksOffset + refcountBlockCount * clusterSize }
    public var dataOffset: UInt64 { l2TablesOffset + l2TableCount * clusterSize }

    var virtualClusterCount: UInt64 { (virtualSize + clusterSize - 1) >> UInt64(clusterBits) }
    var l2Entries: UInt64 { clusterSize / 8 }

    func isAllocated(_ cluster: UInt64) -> Bool {
        allocation[Int(cluster >> 6)] & (1 << (cluster & 63)) != 0
    }

    /// Whether any cluster of L1 entry `index` is allocated.
    func l1EntryHasData(_ index: UInt64) -> Bool {
        // An L2 region is l2Entries clusters = l2Entries / 64 whole words.
        let wordsPerRegion = Int(l2Entries / 64)
        let start = Int(index) * wordsPerRegion
        let end = min(start + wordsPerRegion, allocation.count)
        guard start < end else { return false }
        for word in start..<end where allocation[word] != 0 { return true }
        return false
    }

    init(virtualSize: UInt64, clusterBits: UInt32, allocation: [UInt64]) {
        self.virtualSize = virtualSize
        self.clusterBits = clusterBits
        self.allocation = allocation
        let clusterSize = UInt64(1) << UInt64(clusterBits)
        let l2Entries = clusterSize / 8
        let virtualClusters = (virtualSize + clusterSize - 1) / clusterSize
        l1Size = (virtualClusters + l2Entries - 1) / l2Entries
        l1Clusters = max(1, (l1Size * 8 + clusterSize - 1) / clusterSize)
        dataClusterCount = allocation.reduce(0) { $0 + UInt64($1.nonzeroBitCount) }
        let wordsPerRegion = Int(l2Entries / 64)
        var tables: UInt64 = 0
        var word = 0
        while word < allocation.count {
            let end = min(word + wordsPerRegion, allocation.count)
            if allocation[word..<end].contains(where: { $0 != 0 }) { tables += 1 }
            word = end
        }
        l2TableCount = tables

        // Refcount blocks must cover every cluster, themselves included:
        // iterate to the fixed point (converges in two or three rounds).
        let refcountsPerBlock = clusterSize * 8 / 16
        let fixed = 1 + l1Clusters + l2TableCount + dataClusterCount
        var blocks: UInt64 = 0
        var table: UInt64 = 1
        while true {
            let total = fixed + table + blocks
            let newBlocks = (total + refcountsPerBlock - 1) / refcountsPerBlock
            let newTable = max(1, (newBlocks * 8 + clusterSize - 1) / clusterSize)
            if newBlocks == blocks && newTable == table { break }
            blocks = newBlocks
            table = newTable
        }
        refcountBlockCount = blocks
        refcountTableClusters = table
        totalClusters = fixed + table + blocks
    }
}
