/// Checks the structure of an image while its bytes stream past, in file
/// order, without storing it: for a restore that uploads an image as it
/// arrives and must know, before completing the upload, that the image is
/// whole.
///
/// Feed every byte with ``consume(_:)``, then call ``finish()``. The header
/// policy (``QCOW2Header/checkPolicy(virtualSizeRange:)``) is enforced as
/// soon as the header is complete. The L1 table, the refcount table and the
/// L2 tables are decoded as they pass, and ``finish()`` fails with
/// `truncated` when the stream ended before a structure or a data cluster
/// they reference.
///
/// Metadata that overlaps (two tables in one cluster, an L2 table or
/// refcount block inside the L1 or refcount table) is refused with
/// `corrupt` as soon as the second claim is decoded, whatever the order, and
/// so is a data cluster mapped onto the header, the L1 or refcount table or
/// an L2 table. A data cluster mapped onto a refcount block is caught only
/// when the refcount table passed before the L2 table mapping it (as in
/// images from QEMU and ``QCOW2Writer``); ``QCOW2Inspector`` always catches it.
///
/// An L2 table located before the L1 entry that references it (unusual:
/// QEMU and ``QCOW2Writer`` place the L1 table first) cannot be decoded
/// without buffering the image; it is only checked to lie inside the image
/// and counted in ``QCOW2StreamInspection/unverifiedL2Tables``. Use
/// ``QCOW2Inspector`` on a file for a complete check.
///
/// Memory: one cluster, plus about 32 bytes per L2 table and refcount block
/// (bounded by the L1 table, itself at most 32 MiB, and the refcount table).
public struct QCOW2StreamInspector: Sendable {
    private enum Role: Sendable {
        case l1Table
        case refcountTable
        case l2Table(l1Index: UInt64)
    }

    /// The parsed header, once the first bytes have arrived.
    public private(set) var header: QCOW2Header?
    /// Bytes consumed so far.
    public private(set) var bytesConsumed: UInt64 = 0

    private let virtualSizeRange: ClosedRange<UInt64>?
    private var prefix: [UInt8] = []
    private var decoder: EntryDecoder?
    private var metadata: MetadataMap?
    private var pendingL2: [UInt64: UInt64] = [:]  // host offset -> L1 index
    private var cluster: [UInt8] = []
    private var clusterStart: UInt64 = 0
    private var clusterRole: Role?
    private var required: UInt64 = 0
    private var l2Checked: UInt64 = 0
    private var l2Unverified: UInt64 = 0
    private var dataClusters: UInt64 = 0
    private var compressedClusters: UInt64 = 0

    /// - Parameter virtualSizeRange: the accepted virtual sizes, `nil` for any.
    public init(virtualSizeRange: ClosedRange<UInt64>? = nil) {
        self.virtualSizeRange = virtualSizeRange
    }

    /// Takes the next bytes of the image.
    ///
    /// - Throws: ``QCOW2Error`` as soon as the header or a table is invalid.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if header == nil {
                // Gather the header cluster (at most 2 MiB) before parsing.
                let take = min(bytes.count - offset, (2 << 20) - prefix.count)
                prefix.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
                offset += take
                bytesConsumed += UInt64(take)
                try parseHeaderIfComplete(final: false)
                continue
            }
            let clusterSize = Int(decoder!.clusterSize)
            let position = bytesConsumed
            let within = Int(position % UInt64(clusterSize))
            if within == 0 {
                clusterStart = position
                clusterRole = role(of: position)
                cluster.removeAll(keepingCapacity: true)
            }
            let take = min(bytes.count - offset, clusterSize - within)
            if clusterRole != nil {
                cluster.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            }
            offset += take
            bytesConsumed += UInt64(take)
            if within + take == clusterSize { try processCluster() }
        }
    }

    /// Takes the next bytes of the image.
    public mutating func consume(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try consume($0) }
    }

    /// Ends the stream and checks that everything referenced was present.
    ///
    /// - Throws: ``QCOW2Error`` with reason `truncated` when the image ended
    ///   early, or any header reason when it was too short to parse.
    public mutating func finish() throws -> QCOW2StreamInspection {
        if header == nil { try parseHeaderIfComplete(final: true) }
        guard let header else { throw QCOW2Error(.truncated, "the image ended before its header") }
        if !cluster.isEmpty || clusterRole != nil { try processCluster() }
        if let missing = pendingL2.keys.min() {
            throw QCOW2Error.truncated("the L2 table at \(missing)", needed: missing + header.clusterSize, available: bytesConsumed)
        }
        guard required <= bytesConsumed else {
            throw QCOW2Error.truncated("the image's data", needed: required, available: bytesConsumed)
        }
        return QCOW2StreamInspection(header: header, imageSize: bytesConsumed, requiredFileSize: required,
                                     l2TablesChecked: l2Checked, unverifiedL2Tables: l2Unverified,
                                     dataClusterCount: dataClusters, compressedClusterCount: compressedClusters)
    }

    // MARK: - Internals

    private mutating func parseHeaderIfComplete(final: Bool) throws {
        let parsed: QCOW2Header
        do {
            parsed = try QCOW2Header.parse(prefix)
        } catch let error as QCOW2Error where error.reason == .truncated && !final && prefix.count < 2 << 20 {
            return  // wait for more bytes
        }
        // Extensions may need the whole first cluster: parse succeeded, so
        // they are complete.
        try parsed.checkPolicy(virtualSizeRange: virtualSizeRange)
        let clusterSize = parsed.clusterSize
        let l1Entries = UInt64(parsed.l1Size)
        guard l1Entries >= parsed.requiredL1Size else {
            throw QCOW2Error.corrupt("l1_size \(l1Entries) is too small for the virtual size \(parsed.virtualSize)", offset: 36)
        }
        guard l1Entries * 8 <= QCOW2Reader.maximumL1Bytes else {
            throw QCOW2Error(.unsupportedFeature, "the L1 table of \(l1Entries * 8) bytes exceeds the 32 MiB limit", offset: 36)
        }
        if l1Entries > 0 {
            guard parsed.l1TableOffset & (clusterSize - 1) == 0, parsed.l1TableOffset >= clusterSize,
                  parsed.l1TableOffset <= UInt64.max / 2 else {
                throw QCOW2Error.corrupt("the L1 table offset \(parsed.l1TableOffset) is not a cluster boundary after the header", offset: 40)
            }
            required = max(required, parsed.l1TableOffset + l1Entries * 8)
        }
        let tableOffset = parsed.refcountTableOffset
        guard tableOffset & (clusterSize - 1) == 0, tableOffset >= clusterSize, tableOffset <= UInt64.max / 2,
              parsed.refcountTableClusters > 0 else {
            throw QCOW2Error.corrupt("the refcount table offset \(tableOffset) is not a cluster boundary after the header", offset: 48)
        }
        guard UInt64(parsed.refcountTableClusters) * clusterSize <= QCOW2Reader.maximumRefcountTableBytes else {
            throw QCOW2Error(.unsupportedFeature, "the refcount table of \(UInt64(parsed.refcountTableClusters) * clusterSize) bytes exceeds the 8 MiB limit", offset: 56)
        }
        required = max(required, clusterSize, tableOffset + UInt64(parsed.refcountTableClusters) * clusterSize)
        var map = MetadataMap(clusterBits: parsed.clusterBits)
        try map.claim(.l1Table, offset: parsed.l1TableOffset, count: l1Entries * 8)
        try map.claim(.refcountTable, offset: tableOffset, count: UInt64(parsed.refcountTableClusters) * clusterSize)
        metadata = map
        header = parsed
        decoder = EntryDecoder(clusterBits: parsed.clusterBits, version: parsed.version, fileSize: UInt64.max / 2)

        // Replay what followed the header cluster in the buffered prefix.
        let rest = prefix.count > Int(clusterSize) ? Array(prefix[Int(clusterSize)...]) : []
        bytesConsumed = min(bytesConsumed, clusterSize)
        prefix = []
        if !rest.isEmpty { try consume(rest) }
    }

    private func role(of position: UInt64) -> Role? {
        guard let header else { return nil }
        let clusterSize = header.clusterSize
        let l1Bytes = UInt64(header.l1Size) * 8
        if l1Bytes > 0, position >= header.l1TableOffset, position < header.l1TableOffset + l1Bytes { return .l1Table }
        let tableOffset = header.refcountTableOffset
        if position >= tableOffset, position < tableOffset + UInt64(header.refcountTableClusters) * clusterSize { return .refcountTable }
        if let l1Index = pendingL2[position] { return .l2Table(l1Index: l1Index) }
        return nil
    }

    private mutating func processCluster() throws {
        defer {
            cluster.removeAll(keepingCapacity: true)
            clusterRole = nil
        }
        guard let role = clusterRole, let header, let decoder else { return }
        let clusterSize = header.clusterSize
        let entries = cluster.count / 8
        try cluster.withUnsafeBytes { bytes in
            switch role {
            case .l1Table:
                let first = (clusterStart - header.l1TableOffset) / 8
                for slot in 0..<entries {
                    let index = first + UInt64(slot)
                    guard index < UInt64(header.l1Size) else { break }
                    guard let l2 = try decoder.l2TableOffset(bytes.loadBE64(at: slot * 8), l1Index: index) else { continue }
                    try metadata!.claim(.l2Table(l1Index: index), offset: l2, count: clusterSize)
                    required = max(required, l2 + clusterSize)
                    if l2 < bytesConsumed {
                        l2Unverified += 1  // passed already: only its presence is checked
                    } else {
                        pendingL2[l2] = index
                    }
                }
            case .refcountTable:
                for slot in 0..<entries {
                    let entry = bytes.loadBE64(at: slot * 8)
                    if entry == 0 { continue }
                    guard entry & 0x1FF == 0, entry & (clusterSize - 1) == 0, entry <= UInt64.max / 2 else {
                        throw QCOW2Error.corrupt("a refcount table entry (0x\(String(entry, radix: 16))) is not a cluster offset", offset: clusterStart + UInt64(slot * 8))
                    }
                    let index = (clusterStart - header.refcountTableOffset) / 8 + UInt64(slot)
                    try metadata!.claim(.refcountBlock(index: index), offset: entry, count: clusterSize)
                    required = max(required, entry + clusterSize)
                }
            case .l2Table(let l1Index):
                pendingL2[clusterStart] = nil
                l2Checked += 1
                for slot in 0..<entries {
                    let entry = bytes.loadBE64(at: slot * 8)
                    if entry == 0 { continue }
                    let virtualCluster = l1Index * header.l2Entries + UInt64(slot)
                    switch try decoder.mapping(entry, cluster: virtualCluster) {
                    case .unallocated, .zero:
                        break
                    case .data(let hostOffset):
                        try metadata!.checkData(offset: hostOffset, count: clusterSize, virtualCluster: virtualCluster)
                        dataClusters += 1
                        required = max(required, hostOffset + clusterSize)
                    case .compressed(let hostOffset, let length):
                        try metadata!.checkData(offset: hostOffset, count: UInt64(length), virtualCluster: virtualCluster)
                        compressedClusters += 1
                        required = max(required, hostOffset + UInt64(length) - min(UInt64(length), 511))
                    }
                }
            }
        }
    }
}
