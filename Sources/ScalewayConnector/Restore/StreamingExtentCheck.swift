import QCOW2

/// Follows a QCOW2 image as it streams past (no seeking, no temp file) and
/// works out the least file length its tables require, so an image cut
/// short is refused at its end rather than after a long import.
///
/// It captures the L1 table as it passes, learns the L2 tables' offsets
/// from it, captures those as they pass, and keeps the end of the furthest
/// data cluster they reference. Memory: the L1 table plus one L2 table at a
/// time. Tables placed before the point where they become known (not done
/// by qemu-img or Scaleway exports, which write L1 before L2 tables) are
/// not followed; the import would still refuse such an image.
struct StreamingExtentCheck: Sendable {
    private let clusterSize: UInt64
    private let clusterBits: UInt32
    private let l1Range: Range<UInt64>
    private var l1Bytes: [UInt8] = []
    /// L2 tables still to capture, by offset (kept sorted).
    private var pendingL2: [UInt64] = []
    private var currentL2: (offset: UInt64, bytes: [UInt8])?
    /// The least length the image needs, as known so far.
    private(set) var requiredLength: UInt64

    init(header: QCOW2Header) {
        clusterSize = header.clusterSize
        clusterBits = header.clusterBits
        l1Range = header.l1TableOffset..<(header.l1TableOffset + UInt64(header.l1Size) * 8)
        requiredLength = max(l1Range.upperBound,
                             header.refcountTableOffset + UInt64(header.refcountTableClusters) * header.clusterSize)
    }

    /// Feeds the bytes found at `offset` of the image.
    mutating func consume(_ bytes: ArraySlice<UInt8>, at offset: UInt64) {
        let end = offset + UInt64(bytes.count)
        // The L1 table.
        if offset < l1Range.upperBound && end > l1Range.lowerBound && UInt64(l1Bytes.count) < UInt64(l1Range.count) {
            let from = max(offset, l1Range.lowerBound + UInt64(l1Bytes.count))
            let to = min(end, l1Range.upperBound)
            if from < to {
                let start = bytes.startIndex + Int(from - offset)
                l1Bytes += bytes[start..<(start + Int(to - from))]
                if UInt64(l1Bytes.count) == UInt64(l1Range.count) { learnL2Tables(after: to) }
            }
        }
        // L2 tables.
        var position = offset
        while position < end {
            if currentL2 == nil {
                guard let next = pendingL2.first, next < end else { return }
                pendingL2.removeFirst()
                if next + clusterSize <= position { continue }  // already passed: cannot follow
                currentL2 = (next, [])
                position = max(position, next)
            }
            guard var table = currentL2 else { return }
            let from = max(position, table.offset + UInt64(table.bytes.count))
            let to = min(end, table.offset + clusterSize)
            if from < to {
                let start = bytes.startIndex + Int(from - offset)
                table.bytes += bytes[start..<(start + Int(to - from))]
            }
            position = to
            if UInt64(table.bytes.count) == clusterSize {
                scanL2(table.bytes)
                currentL2 = nil
            } else {
                currentL2 = table
            }
        }
    }

    private mutating func learnL2Tables(after position: UInt64) {
        var offsets: [UInt64] = []
        for i in stride(from: 0, to: l1Bytes.count, by: 8) {
            let entry = Self.be64(l1Bytes, i) & 0x00FF_FFFF_FFFF_FE00
            if entry != 0 {
                requiredLength = max(requiredLength, entry + clusterSize)
                offsets.append(entry)
            }
        }
        pendingL2 = offsets.sorted()
        l1Bytes = []
    }

    private mutating func scanL2(_ table: [UInt8]) {
        let offsetBits = 62 - (UInt64(clusterBits) - 8)
        for i in stride(from: 0, to: table.count, by: 8) {
            let entry = Self.be64(table, i)
            if entry & (1 << 62) != 0 {
                // Compressed: only the start must exist (the sector count may overshoot the end).
                let host = entry & ((1 << offsetBits) - 1)
                if host != 0 { requiredLength = max(requiredLength, host + 1) }
            } else {
                // qemu may leave the last data cluster short: only its start must exist.
                let host = entry & 0x00FF_FFFF_FFFF_FE00
                if host != 0 { requiredLength = max(requiredLength, host + 1) }
            }
        }
    }

    private static func be64(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        var value: UInt64 = 0
        for k in 0..<8 { value = value << 8 | UInt64(bytes[at + k]) }
        return value
    }
}
