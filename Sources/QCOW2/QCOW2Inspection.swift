/// The result of a whole-image structural check by ``QCOW2Inspector``.
public struct QCOW2Inspection: Sendable, Equatable {
    /// The parsed header.
    public let header: QCOW2Header
    /// Size of the image file.
    public let fileSize: UInt64
    /// The end of the furthest structure or data the image references: an
    /// image shorter than this is truncated.
    public let requiredFileSize: UInt64
    /// Refcount blocks referenced by the refcount table.
    public let refcountBlockCount: UInt64
    /// L2 tables referenced by the L1 table.
    public let l2TableCount: UInt64
    /// Standard (uncompressed) data clusters.
    public let dataClusterCount: UInt64
    /// Deflate-compressed clusters.
    public let compressedClusterCount: UInt64
    /// Clusters with the zero flag.
    public let zeroClusterCount: UInt64

    public var virtualSize: UInt64 { header.virtualSize }
    /// Virtual bytes backed by data (standard or compressed clusters).
    public var allocatedVirtualBytes: UInt64 {
        min(virtualSize, (dataClusterCount + compressedClusterCount) * header.clusterSize)
    }
}
