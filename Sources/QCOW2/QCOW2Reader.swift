#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// Reads the virtual disk stored in a QCOW2 image (versions 2 and 3).
///
/// Handles standard, zero-flag, unallocated and deflate-compressed clusters.
/// Refuses, with a typed ``QCOW2Error``, what it cannot read faithfully
/// (encryption, backing file, zstd, external data file, extended L2) and
/// every inconsistency of hostile or damaged input: table sizes are bounded
/// by the file size (and the L1 table by 32 MiB, QEMU's own limit), every
/// offset is checked for alignment, overflow and presence in the file
/// before use. Memory: the L1 table plus one L2 slice and one cluster per
/// call.
///
/// All reads are positional (`pread`), and the reader holds no mutable
/// state, so one reader may serve concurrent readers.
///
/// ```swift
/// let reader = try QCOW2Reader(path: "disk.qcow2")
/// try reader.copy(toSparseFileAt: "disk.raw")   // only the data is written
/// ```
public final class QCOW2Reader: Sendable {
    /// Largest L1 table accepted, as in QEMU (`QCOW_MAX_L1_SIZE`).
    public static let maximumL1Bytes: UInt64 = 32 << 20
    /// Largest refcount table accepted, as in QEMU (`QCOW_MAX_REFTABLE_SIZE`):
    /// it bounds what a check reads for a damaged `refcount_table_clusters`.
    public static let maximumRefcountTableBytes: UInt64 = 8 << 20

    /// The parsed header.
    public let header: QCOW2Header
    /// Size of the image file in bytes.
    public let fileSize: UInt64
    /// Size of the virtual disk in bytes.
    public var virtualSize: UInt64 { header.virtualSize }

    let fileDescriptor: Int32
    private let ownsDescriptor: Bool
    let l1Table: [UInt64]
    let decoder: EntryDecoder

    /// Opens the image at `path` read-only.
    public convenience init(path: String) throws {
        let fd = try FileIO.open(path, O_RDONLY)
        do {
            try self.init(fileDescriptor: fd, takingOwnership: true)
        } catch {
            close(fd)
            throw error
        }
    }

    /// Opens the image behind a descriptor opened for reading.
    ///
    /// - Parameter takingOwnership: close the descriptor when the reader goes away.
    public init(fileDescriptor: Int32, takingOwnership: Bool = false) throws {
        let fileSize = try FileIO.size(of: fileDescriptor)
        let header = try Self.readHeader(fileDescriptor, fileSize: fileSize)
        try header.checkReadable()

        let (l1Offset, l1Entries, l1Bytes) = try header.checkedL1Table(fileSize: fileSize)
        var l1 = [UInt64](repeating: 0, count: Int(l1Entries))
        if l1Entries > 0 {
            let got = try l1.withUnsafeMutableBytes { try FileIO.pread(fileDescriptor, $0, at: l1Offset) }
            guard got == Int(l1Bytes) else {
                throw QCOW2Error.truncated("the L1 table", needed: l1Offset + l1Bytes, available: l1Offset + UInt64(got))
            }
            for index in l1.indices { l1[index] = UInt64(bigEndian: l1[index]) }
        }

        self.header = header
        self.fileSize = fileSize
        self.fileDescriptor = fileDescriptor
        self.ownsDescriptor = takingOwnership
        self.l1Table = l1
        self.decoder = EntryDecoder(clusterBits: header.clusterBits, version: header.version, fileSize: fileSize)
    }

    deinit {
        if ownsDescriptor { close(fileDescriptor) }
    }

    /// Reads and parses the header cluster (at most 2 MiB).
    static func readHeader(_ fd: Int32, fileSize: UInt64) throws -> QCOW2Header {
        var length = Int(min(fileSize, 64 << 10))
        while true {
            var prefix = [UInt8](repeating: 0, count: length)
            let got = try prefix.withUnsafeMutableBytes { try FileIO.pread(fd, $0, at: 0) }
            prefix.removeLast(length - got)
            let header = try QCOW2Header.parse(prefix)
            let clusterSize = Int(header.clusterSize)
            if clusterSize <= length || UInt64(length) == fileSize { return header }
            // Larger clusters: the extensions may reach further.
            length = Int(min(fileSize, UInt64(clusterSize)))
        }
    }

    /// Fills `buffer` with the virtual disk bytes at `offset`.
    ///
    /// - Throws: `invalid_argument` when the range passes the virtual size;
    ///   `corrupt`/`truncated` when a table entry on the way is invalid.
    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let count = UInt64(buffer.count)
        guard offset <= virtualSize, count <= virtualSize - offset else {
            throw QCOW2Error(.invalidArgument, "cannot read \(count) bytes at \(offset): the virtual disk has \(virtualSize) bytes", offset: offset)
        }
        guard count > 0 else { return }
        let clusterBits = UInt64(header.clusterBits)
        let clusterSize = header.clusterSize
        let l2Entries = header.l2Entries
        var scratch: UnsafeMutableRawBufferPointer?
        defer { scratch?.deallocate() }
        var run = DataRun()

        var position = offset
        let end = offset + count
        while position < end {
            let firstCluster = position >> clusterBits
            let l1Index = firstCluster / l2Entries
            let regionEnd = min(end, (l1Index + 1) * l2Entries << clusterBits)
            let lastCluster = (regionEnd - 1) >> clusterBits
            guard let l2Offset = try decoder.l2TableOffset(l1Table[Int(l1Index)], l1Index: l1Index) else {
                try run.flush(self, buffer: buffer)
                zero(buffer, Int(position - offset), Int(regionEnd - position))
                position = regionEnd
                continue
            }
            let entries = try readL2Slice(l2Offset, from: firstCluster % l2Entries, count: Int(lastCluster - firstCluster + 1))
            for (index, entry) in entries.enumerated() {
                let cluster = firstCluster + UInt64(index)
                let clusterStart = cluster << clusterBits
                let within = position - clusterStart
                let length = min(clusterSize - within, end - position)
                let destination = Int(position - offset)
                switch try decoder.mapping(entry, cluster: cluster) {
                case .unallocated, .zero:
                    try run.flush(self, buffer: buffer)
                    zero(buffer, destination, Int(length))
                case .data(let hostOffset):
                    if !run.extends(host: hostOffset + within, destination: destination) {
                        try run.flush(self, buffer: buffer)
                    }
                    run.add(host: hostOffset + within, destination: destination, length: Int(length))
                    if run.length >= 8 << 20 { try run.flush(self, buffer: buffer) }
                case .compressed(let hostOffset, let compressedLength):
                    try run.flush(self, buffer: buffer)
                    if scratch == nil { scratch = .allocate(byteCount: Int(clusterSize) * 3 + 512, alignment: 16) }
                    let output = UnsafeMutableRawBufferPointer(rebasing: scratch![0..<Int(clusterSize)])
                    try inflate(hostOffset: hostOffset, length: compressedLength, into: output,
                                input: UnsafeMutableRawBufferPointer(rebasing: scratch![Int(clusterSize)...]))
                    (buffer.baseAddress! + destination).copyMemory(from: output.baseAddress! + Int(within), byteCount: Int(length))
                }
                position += length
            }
        }
        try run.flush(self, buffer: buffer)
    }

    /// Reads `count` bytes of the virtual disk at `offset`.
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(at: offset, into: $0) }
        return bytes
    }

    /// Calls `body` with every maximal virtual byte range backed by data
    /// (standard or compressed clusters), in increasing order. Unallocated
    /// and zero-flag clusters are left out: they read as zeros.
    public func forEachAllocatedRange(_ body: (Range<UInt64>) throws -> Void) throws {
        let clusterBits = UInt64(header.clusterBits)
        let l2Entries = header.l2Entries
        let virtualClusters = (virtualSize + header.clusterSize - 1) >> clusterBits
        var pending: Range<UInt64>?
        for l1Index in 0..<UInt64(l1Table.count) {
            let firstCluster = l1Index * l2Entries
            if firstCluster >= virtualClusters { break }
            guard let l2Offset = try decoder.l2TableOffset(l1Table[Int(l1Index)], l1Index: l1Index) else {
                if let range = pending { try body(range); pending = nil }
                continue
            }
            let count = Int(min(l2Entries, virtualClusters - firstCluster))
            let entries = try readL2Slice(l2Offset, from: 0, count: count)
            for (index, entry) in entries.enumerated() {
                let cluster = firstCluster + UInt64(index)
                if try decoder.mapping(entry, cluster: cluster).holdsData {
                    let start = cluster << clusterBits
                    let stop = min(start + header.clusterSize, virtualSize)
                    if let range = pending, range.upperBound == start {
                        pending = range.lowerBound..<stop
                    } else {
                        if let range = pending { try body(range) }
                        pending = start..<stop
                    }
                } else if let range = pending {
                    try body(range)
                    pending = nil
                }
            }
        }
        if let range = pending { try body(range) }
    }

    /// The virtual byte ranges backed by data; see ``forEachAllocatedRange(_:)``.
    public func allocatedRanges() throws -> [Range<UInt64>] {
        var ranges: [Range<UInt64>] = []
        try forEachAllocatedRange { ranges.append($0) }
        return ranges
    }

    /// Copies the virtual disk into a sparse file: only allocated ranges are
    /// written (chunks that turn out entirely zero are skipped too), then the
    /// file is sized to the virtual size. The descriptor must be writable;
    /// its previous content is not cleared.
    ///
    /// - Returns: the number of bytes written.
    @discardableResult
    public func copy(toSparseFile fd: Int32) throws -> UInt64 {
        let chunk = 4 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
        defer { buffer.deallocate() }
        var written: UInt64 = 0
        try forEachAllocatedRange { range in
            var position = range.lowerBound
            while position < range.upperBound {
                let length = Int(min(UInt64(chunk), range.upperBound - position))
                let slice = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
                try read(at: position, into: slice)
                if !ZeroBlock.shared.isZero(slice.baseAddress!, count: length) {
                    try FileIO.pwriteAll(fd, UnsafeRawBufferPointer(slice), at: position)
                    written += UInt64(length)
                }
                position += UInt64(length)
            }
        }
        guard ftruncate(fd, off_t(virtualSize)) == 0 else {
            let code = errno
            throw QCOW2Error(.io, "cannot size the output to \(virtualSize) bytes: \(String(cString: strerror(code)))", errno: code)
        }
        return written
    }

    /// Copies the virtual disk into a new sparse file at `path` (truncated if
    /// it exists); see ``copy(toSparseFile:)``.
    @discardableResult
    public func copy(toSparseFileAt path: String) throws -> UInt64 {
        let fd = try FileIO.open(path, O_WRONLY | O_CREAT | O_TRUNC)
        defer { close(fd) }
        return try copy(toSparseFile: fd)
    }

    // MARK: - Internals

    /// Reads `count` consecutive L2 entries starting at entry `first`.
    func readL2Slice(_ tableOffset: UInt64, from first: UInt64, count: Int) throws -> [UInt64] {
        var entries = [UInt64](repeating: 0, count: count)
        let offset = tableOffset + first * 8
        let got = try entries.withUnsafeMutableBytes { try FileIO.pread(fileDescriptor, $0, at: offset) }
        guard got == count * 8 else {
            throw QCOW2Error.truncated("an L2 table", needed: offset + UInt64(count * 8), available: fileSize)
        }
        for index in entries.indices { entries[index] = UInt64(bigEndian: entries[index]) }
        return entries
    }

    func inflate(hostOffset: UInt64, length: Int, into output: UnsafeMutableRawBufferPointer,
                 input: UnsafeMutableRawBufferPointer) throws {
        // The descriptor allows at most 2 clusters of compressed data.
        let length = min(length, input.count)
        let compressed = UnsafeMutableRawBufferPointer(rebasing: input[0..<length])
        let got = try FileIO.pread(fileDescriptor, compressed, at: hostOffset)
        try Inflater.inflateCluster(UnsafeRawBufferPointer(rebasing: compressed[0..<got]), into: output, hostOffset: hostOffset)
    }

    private func zero(_ buffer: UnsafeMutableRawBufferPointer, _ start: Int, _ count: Int) {
        (buffer.baseAddress! + start).initializeMemory(as: UInt8.self, repeating: 0, count: count)
    }
}

/// Host-contiguous data clusters gathered into one `pread`.
private struct DataRun {
    var host: UInt64 = 0
    var destination = 0
    var length = 0

    /// Whether `host`/`destination` continue the current run (or it is empty).
    func extends(host: UInt64, destination: Int) -> Bool {
        length == 0 || (self.host + UInt64(length) == host && self.destination + length == destination)
    }

    /// Appends to the run; call ``flush(_:buffer:)`` first unless ``extends(host:destination:)``.
    mutating func add(host: UInt64, destination: Int, length: Int) {
        if self.length > 0 {
            self.length += length
            return
        }
        self.host = host
        self.destination = destination
        self.length = length
    }

    mutating func flush(_ reader: QCOW2Reader, buffer: UnsafeMutableRawBufferPointer) throws {
        guard length > 0 else { return }
        let target = UnsafeMutableRawBufferPointer(rebasing: buffer[destination..<(destination + length)])
        let got = try FileIO.pread(reader.fileDescriptor, target, at: host)
        if got < length {
            // A last cluster cut short by the end of file reads as zeros, as in QEMU.
            (target.baseAddress! + got).initializeMemory(as: UInt8.self, repeating: 0, count: length - got)
        }
        length = 0
    }
}
