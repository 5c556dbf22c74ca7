/// The structural check of a whole image, without I/O: the caller reads the
/// tables it asks for (with `pread`, ranged GETs...) and hands them over.
///
/// ``QCOW2Inspector`` drives it on a file; a backup drives it with ranged
/// GETs on a staged object. The checks are those of `qemu-img check` that
/// need no data: the header policy, the L1 table, the refcount table and
/// every L2 table aligned and inside the file, no two metadata structures in
/// one cluster, no data cluster on metadata, and the file long enough for
/// everything referenced. Refcount values are not compared with the
/// references (that would need a count per cluster of the image).
///
/// Use, in this order:
/// 1. ``init(header:fileSize:virtualSizeRange:)`` (header policy and
///    geometry);
/// 2. ``addL1Table(_:)`` with the bytes of ``l1TableRange``, which returns
///    the L2 tables to read;
/// 3. ``addRefcountTable(_:at:)`` with the bytes of ``refcountTableRange``
///    (in one or more pieces);
/// 4. ``checkL2Table(_:of:)`` for each L2 table;
/// 5. ``finish()``.
///
/// Memory: the metadata map (one entry per L2 table and refcount block)
/// plus the list of L2 tables; tables themselves are not kept.
public struct QCOW2StructureCheck: Sendable {
    /// Where one L2 table lies.
    public struct L2Table: Sendable, Hashable {
        /// Its entry in the L1 table.
        public let l1Index: UInt64
        /// Its host offset (cluster-aligned, one cluster long).
        public let offset: UInt64
    }

    /// The parsed header.
    public let header: QCOW2Header
    /// Length of the whole image in bytes.
    public let fileSize: UInt64
    /// The bytes of the L1 table (empty when it has no entries).
    public let l1TableRange: Range<UInt64>
    /// The bytes of the refcount table.
    public let refcountTableRange: Range<UInt64>

    private let decoder: EntryDecoder
    private var metadata: MetadataMap
    private var required: UInt64
    private var l2Tables = 0
    private var l2TablesChecked = 0
    private var l1Added = false
    private var refcountBytesAdded: UInt64 = 0
    private var refcountBlocks: UInt64 = 0
    private var data: UInt64 = 0, compressed: UInt64 = 0, zero: UInt64 = 0

    /// Checks the header's policy and the placement of its tables.
    ///
    /// - Parameters:
    ///   - header: the parsed header (``QCOW2Header/parse(_:)-(UnsafeRawBufferPointer)``).
    ///   - fileSize: the image's length.
    ///   - virtualSizeRange: the accepted virtual sizes, `nil` for any.
    /// - Throws: ``QCOW2Error``: the policy reasons, `corrupt` for a misplaced
    ///   or overlapping table, `truncated` for one past the end of the file.
    public init(header: QCOW2Header, fileSize: UInt64, virtualSizeRange: ClosedRange<UInt64>? = nil) throws {
        try header.checkPolicy(virtualSizeRange: virtualSizeRange)
        let clusterSize = header.clusterSize
        let (l1Offset, l1Entries, l1Bytes) = try header.checkedL1Table(fileSize: fileSize)
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
        guard tableBytes <= QCOW2Reader.maximumRefcountTableBytes else {
            throw QCOW2Error(.unsupportedFeature, "the refcount table of \(tableBytes) bytes exceeds the 8 MiB limit", offset: 56)
        }
        var metadata = MetadataMap(clusterBits: header.clusterBits)
        try metadata.claim(.l1Table, offset: l1Offset, count: l1Bytes)
        try metadata.claim(.refcountTable, offset: tableOffset, count: tableBytes)

        self.header = header
        self.fileSize = fileSize
        self.metadata = metadata
        l1TableRange = l1Entries > 0 ? l1Offset..<(l1Offset + l1Bytes) : 0..<0
        refcountTableRange = tableOffset..<(tableOffset + tableBytes)
        decoder = EntryDecoder(clusterBits: header.clusterBits, version: header.version, fileSize: fileSize)
        required = max(clusterSize, l1TableRange.upperBound, refcountTableRange.upperBound)
    }

    /// Takes the L1 table (the bytes of ``l1TableRange``) and returns the L2
    /// tables it references, in L1 order.
    ///
    /// - Throws: `corrupt` for a malformed entry or an L2 table on other
    ///   metadata, `truncated` for one past the end of the file.
    public mutating func addL1Table(_ bytes: UnsafeRawBufferPointer) throws -> [L2Table] {
        precondition(!l1Added && UInt64(bytes.count) == UInt64(l1TableRange.count), "pass the whole L1 table once")
        l1Added = true
        var tables: [L2Table] = []
        for index in 0..<(bytes.count / 8) {
            let l1Index = UInt64(index)
            guard let offset = try decoder.l2TableOffset(bytes.loadBE64(at: index * 8), l1Index: l1Index) else { continue }
            try metadata.claim(.l2Table(l1Index: l1Index), offset: offset, count: header.clusterSize)
            required = max(required, offset + header.clusterSize)
            tables.append(L2Table(l1Index: l1Index, offset: offset))
        }
        l2Tables = tables.count
        return tables
    }

    /// Takes bytes of the refcount table found at host `offset` (inside
    /// ``refcountTableRange``, 8-byte aligned, in order).
    ///
    /// - Throws: `corrupt` for a malformed entry or a refcount block on
    ///   other metadata, `truncated` for one past the end of the file.
    public mutating func addRefcountTable(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        precondition(offset == refcountTableRange.lowerBound + refcountBytesAdded && bytes.count % 8 == 0
                     && UInt64(bytes.count) <= UInt64(refcountTableRange.upperBound - offset),
                     "pass the refcount table in order, in whole entries")
        let clusterSize = header.clusterSize
        for slot in 0..<(bytes.count / 8) {
            let entry = bytes.loadBE64(at: slot * 8)
            if entry == 0 { continue }
            let entryOffset = offset + UInt64(slot * 8)
            let index = (entryOffset - refcountTableRange.lowerBound) / 8
            if entry & 0x1FF != 0 {
                throw QCOW2Error.corrupt("refcount table entry \(index) has reserved bits set", offset: entryOffset)
            }
            if entry & (clusterSize - 1) != 0 {
                throw QCOW2Error.corrupt("a refcount block lies at the unaligned offset \(entry)", offset: entry)
            }
            guard entry <= fileSize, clusterSize <= fileSize - entry else {
                throw QCOW2Error.truncated("a refcount block", needed: entry &+ clusterSize, available: fileSize)
            }
            try metadata.claim(.refcountBlock(index: index), offset: entry, count: clusterSize)
            required = max(required, entry + clusterSize)
            refcountBlocks += 1
        }
        refcountBytesAdded += UInt64(bytes.count)
    }

    /// Checks one L2 table (one cluster of bytes) returned by ``addL1Table(_:)``.
    ///
    /// - Throws: `corrupt` for a malformed entry or data on metadata,
    ///   `truncated` for data past the end of the file.
    public mutating func checkL2Table(_ bytes: UnsafeRawBufferPointer, of table: L2Table) throws {
        precondition(l1Added && refcountBytesAdded == UInt64(refcountTableRange.count),
                     "add the L1 and refcount tables before the L2 tables")
        precondition(UInt64(bytes.count) == header.clusterSize, "pass a whole L2 table")
        let clusterSize = header.clusterSize
        for slot in 0..<(bytes.count / 8) {
            let entry = bytes.loadBE64(at: slot * 8)
            if entry == 0 { continue }
            let virtualCluster = table.l1Index * header.l2Entries + UInt64(slot)
            switch try decoder.mapping(entry, cluster: virtualCluster) {
            case .unallocated:
                break
            case .zero:
                zero += 1
            case .data(let hostOffset):
                try metadata.checkData(offset: hostOffset, count: clusterSize, virtualCluster: virtualCluster)
                data += 1
                required = max(required, hostOffset + clusterSize)
            case .compressed(let hostOffset, let length):
                try metadata.checkData(offset: hostOffset, count: UInt64(length), virtualCluster: virtualCluster)
                compressed += 1
                // The descriptor rounds up to whole sectors; the file must
                // reach into the last one.
                let offsetBits = UInt64(62 - (header.clusterBits - 8))
                let sectors = (entry >> offsetBits) & ((1 << (62 - offsetBits)) - 1)
                let end = (hostOffset & ~511) + (sectors + 1) * 512
                required = max(required, end - 511)
            }
        }
        l2TablesChecked += 1
    }

    /// Ends the check.
    ///
    /// - Throws: `truncated` when the file is shorter than what it references.
    public func finish() throws -> QCOW2Inspection {
        precondition(l1Added && l2TablesChecked == l2Tables, "check every L2 table before finishing")
        guard required <= fileSize else {
            throw QCOW2Error.truncated("the image's data", needed: required, available: fileSize)
        }
        return QCOW2Inspection(header: header, fileSize: fileSize, requiredFileSize: required,
                               refcountBlockCount: refcountBlocks, l2TableCount: UInt64(l2Tables),
                               dataClusterCount: data, compressedClusterCount: compressed, zeroClusterCount: zero)
    }
}
