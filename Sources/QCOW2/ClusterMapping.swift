/// Where the bytes of one virtual cluster live, decoded from its L2 entry.
enum ClusterMapping: Equatable {
    /// No entry and no backing file: reads as zeros.
    case unallocated
    /// Zero flag (version 3): reads as zeros.
    case zero
    /// A standard cluster at a cluster-aligned host offset.
    case data(hostOffset: UInt64)
    /// A deflate-compressed cluster of `length` bytes at `hostOffset`.
    case compressed(hostOffset: UInt64, length: Int)

    var holdsData: Bool {
        switch self {
        case .data, .compressed: true
        case .unallocated, .zero: false
        }
    }
}

/// Decoding and checking of L1 and L2 entries against one image's geometry.
struct EntryDecoder: Sendable {
    let clusterBits: UInt32
    let version: UInt32
    let fileSize: UInt64

    static let offsetMask: UInt64 = 0x00FF_FFFF_FFFF_FE00
    static let l1ReservedMask: UInt64 = 0x7F00_0000_0000_01FF
    static let l2ReservedMask: UInt64 = 0x3F00_0000_0000_01FE
    static let compressedFlag: UInt64 = 1 << 62
    static let zeroFlag: UInt64 = 1

    var clusterSize: UInt64 { 1 << UInt64(clusterBits) }

    /// The L2 table offset of an L1 entry, `nil` when unallocated.
    func l2TableOffset(_ entry: UInt64, l1Index: UInt64) throws -> UInt64? {
        if entry & Self.l1ReservedMask != 0 {
            throw QCOW2Error.corrupt("L1 entry \(l1Index) (0x\(String(entry, radix: 16))) has reserved bits set")
        }
        let offset = entry & Self.offsetMask
        if offset == 0 { return nil }
        if offset < clusterSize {
            throw QCOW2Error.corrupt("L1 entry \(l1Index) points to the header cluster", offset: offset)
        }
        if offset & (clusterSize - 1) != 0 {
            throw QCOW2Error.corrupt("L1 entry \(l1Index) points to the unaligned L2 table offset \(offset)", offset: offset)
        }
        if offset > fileSize || clusterSize > fileSize - offset {
            throw QCOW2Error.truncated("the L2 table of L1 entry \(l1Index)", needed: offset + clusterSize, available: fileSize)
        }
        return offset
    }

    /// The mapping of an L2 entry for virtual cluster `cluster`.
    func mapping(_ entry: UInt64, cluster: UInt64) throws -> ClusterMapping {
        if entry & Self.compressedFlag != 0 {
            let offsetBits = UInt64(62 - (clusterBits - 8))
            let hostOffset = entry & ((1 << offsetBits) - 1)
            let sectors = (entry >> offsetBits) & ((1 << (62 - offsetBits)) - 1)
            if hostOffset < clusterSize {
                throw QCOW2Error.corrupt("compressed virtual cluster \(cluster) points into the header cluster", offset: hostOffset)
            }
            if hostOffset >= fileSize {
                throw QCOW2Error.truncated("the compressed data of virtual cluster \(cluster)", needed: hostOffset + 1, available: fileSize)
            }
            let end = (hostOffset & ~511) + (sectors + 1) * 512
            // The last sectors may lie past the end of file: QEMU reads them as zeros.
            let length = min(end, fileSize) - hostOffset
            return .compressed(hostOffset: hostOffset, length: Int(length))
        }
        if entry & Self.l2ReservedMask != 0 {
            throw QCOW2Error.corrupt("L2 entry of virtual cluster \(cluster) (0x\(String(entry, radix: 16))) has reserved bits set")
        }
        if entry & Self.zeroFlag != 0 {
            if version < 3 {
                throw QCOW2Error.corrupt("L2 entry of virtual cluster \(cluster) has the zero flag, which version 2 images cannot use")
            }
            return .zero
        }
        let hostOffset = entry & Self.offsetMask
        if hostOffset == 0 { return .unallocated }
        if hostOffset < clusterSize {
            throw QCOW2Error.corrupt("virtual cluster \(cluster) maps to the header cluster", offset: hostOffset)
        }
        if hostOffset & (clusterSize - 1) != 0 {
            throw QCOW2Error.corrupt("virtual cluster \(cluster) maps to the unaligned host offset \(hostOffset)", offset: hostOffset)
        }
        if hostOffset >= fileSize {
            throw QCOW2Error.truncated("the data of virtual cluster \(cluster)", needed: hostOffset + clusterSize, available: fileSize)
        }
        return .data(hostOffset: hostOffset)
    }
}
