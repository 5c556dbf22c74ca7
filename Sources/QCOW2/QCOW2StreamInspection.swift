/// What ``QCOW2StreamInspector/finish()`` found.
public struct QCOW2StreamInspection: Sendable, Equatable {
    public let header: QCOW2Header
    /// Bytes in the stream.
    public let imageSize: UInt64
    /// The end of the furthest structure or data the image references.
    public let requiredFileSize: UInt64
    /// L2 tables decoded as they passed.
    public let l2TablesChecked: UInt64
    /// L2 tables that came before their L1 entry: only their presence was checked.
    public let unverifiedL2Tables: UInt64
    /// Standard data clusters referenced by the decoded L2 tables.
    public let dataClusterCount: UInt64
    /// Compressed clusters referenced by the decoded L2 tables.
    public let compressedClusterCount: UInt64
}
