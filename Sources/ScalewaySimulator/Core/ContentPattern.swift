import Foundation

/// Deterministic, incompressible content for seeded volumes.
///
/// Each region is filled from a xoshiro256** generator seeded with the
/// region's seed mixed with the offset of each 1 MiB chunk, so the bytes at
/// a given offset never depend on how the region is split, the content is
/// reproducible, and no two chunks repeat (backups cannot dedupe them).
public struct ContentRegion: Sendable, Codable, Equatable {
    public var offset: Int64
    public var length: Int64
    public var seed: UInt64

    public init(offset: Int64, length: Int64, seed: UInt64) {
        self.offset = offset
        self.length = length
        self.seed = seed
    }
}

enum ContentPattern {
    /// Writes every region into the (already sized) sparse file at `path`.
    static func write(_ regions: [ContentRegion], to path: String) throws {
        let fd = open(path, O_WRONLY)
        guard fd >= 0 else { throw SparseFileError(operation: "open", path: path, errno: errno) }
        defer { close(fd) }
        let chunk = SparseFile.chunkSize
        let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: chunk / 8)
        defer { buffer.deallocate() }
        for region in regions {
            var offset = region.offset
            let end = region.offset + region.length
            while offset < end {
                // Chunks are aligned on absolute 1 MiB boundaries.
                let chunkStart = offset & ~Int64(chunk - 1)
                fill(buffer, count: chunk / 8, seed: region.seed, chunkIndex: UInt64(chunkStart) / UInt64(chunk))
                let from = Int(offset - chunkStart)
                let to = Int(min(end - chunkStart, Int64(chunk)))
                try SparseFile.writeFully(fd, UnsafeRawPointer(buffer) + from, to - from, at: offset, path: path)
                offset = chunkStart + Int64(to)
            }
        }
    }

    private static func fill(_ words: UnsafeMutablePointer<UInt64>, count: Int, seed: UInt64, chunkIndex: UInt64) {
        var state = SplitMix64(seed: seed ^ (chunkIndex &* 0x9E37_79B9_7F4A_7C15))
        var s0 = state.next(), s1 = state.next(), s2 = state.next(), s3 = state.next()
        for i in 0..<count {
            let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
            let t = s1 << 17
            s2 ^= s0
            s3 ^= s1
            s1 ^= s2
            s0 ^= s3
            s2 ^= t
            s3 = s3 << 45 | s3 >> 19
            words[i] = result
        }
    }
}

/// SplitMix64, used to seed xoshiro and for reproducible fault draws.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A double in [0, 1).
    mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
