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
