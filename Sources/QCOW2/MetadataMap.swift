/// Which host clusters of an image hold metadata (header, L1 table, refcount
/// table, refcount blocks, L2 tables), so that two structures claiming the
/// same cluster, or a data cluster mapped onto metadata, are refused.
///
/// `qemu-img check` finds these through the refcounts (a cluster referenced
/// twice); the inspectors find them directly: writing guest data through such
/// an image would overwrite its own tables.
///
/// Memory: a few spans plus one dictionary entry per L2 table and refcount
/// block (each one cluster), both bounded by the file's cluster count.
struct MetadataMap: Sendable {
    /// What a metadata cluster holds.
    enum Owner: Equatable, Sendable, CustomStringConvertible {
        case header
        case l1Table
        case refcountTable
        case refcountBlock(index: UInt64)
        case l2Table(l1Index: UInt64)

        var description: String {
            switch self {
            case .header: "the header"
            case .l1Table: "the L1 table"
            case .refcountTable: "the refcount table"
            case .refcountBlock(let index): "refcount block \(index)"
            case .l2Table(let l1Index): "the L2 table of L1 entry \(l1Index)"
            }
        }
    }

    let clusterBits: UInt32
    /// Multi-cluster structures (header, L1 table, refcount table), in cluster indices.
    private var spans: [(clusters: Range<UInt64>, owner: Owner)] = []
    /// Single-cluster structures (L2 tables, refcount blocks) by cluster index.
    private var singles: [UInt64: Owner] = [:]

    /// A map holding the header cluster.
    init(clusterBits: UInt32) {
        self.clusterBits = clusterBits
        spans.append((0..<1, .header))
    }

    /// The structure in the cluster holding byte `offset`, if any.
    func owner(ofByte offset: UInt64) -> Owner? {
        let cluster = offset >> UInt64(clusterBits)
        if let owner = singles[cluster] { return owner }
        return spans.first { $0.clusters.contains(cluster) }?.owner
    }

    /// Claims the clusters of `count` bytes from the cluster-aligned `offset`.
    ///
    /// - Throws: `corrupt` when one of them already holds metadata.
    mutating func claim(_ owner: Owner, offset: UInt64, count: UInt64) throws {
        guard count > 0 else { return }
        let clusterSize = UInt64(1) << UInt64(clusterBits)
        let first = offset >> UInt64(clusterBits)
        let clusters = first..<(first + (count + clusterSize - 1) >> UInt64(clusterBits))
        if clusters.count == 1 {
            if let other = singles[first] ?? spans.first(where: { $0.clusters.contains(first) })?.owner {
                throw overlap(owner, other, at: offset)
            }
            singles[first] = owner
            return
        }
        if let other = spans.first(where: { $0.clusters.overlaps(clusters) }) {
            throw overlap(owner, other.owner, at: max(clusters.lowerBound, other.clusters.lowerBound) << UInt64(clusterBits))
        }
        // Spans are claimed right after the header, before any single; this
        // loop only runs for hostile orders.
        for (cluster, other) in singles where clusters.contains(cluster) {
            throw overlap(owner, other, at: cluster << UInt64(clusterBits))
        }
        spans.append((clusters, owner))
    }

    /// Checks that host bytes `offset..<offset+count` of a data cluster hold
    /// no metadata.
    func checkData(offset: UInt64, count: UInt64, virtualCluster: UInt64) throws {
        let clusterSize = UInt64(1) << UInt64(clusterBits)
        var position = offset & ~(clusterSize - 1)
        let end = offset + max(count, 1)
        while position < end {
            if let owner = owner(ofByte: position) {
                throw QCOW2Error.corrupt("virtual cluster \(virtualCluster) maps to host byte \(max(position, offset)), which holds \(owner) (the cluster is used twice)",
                                         offset: max(position, offset))
            }
            position += clusterSize
        }
    }

    private func overlap(_ owner: Owner, _ other: Owner, at offset: UInt64) -> QCOW2Error {
        QCOW2Error.corrupt("\(owner) overlaps \(other) at host byte \(offset) (metadata clusters used twice)", offset: offset)
    }
}
