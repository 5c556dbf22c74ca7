/// Chooses multipart part sizes under Scaleway's limits: 1 to 1000 parts,
/// 5 MiB to 5 GiB per part (the last part may be smaller), 5 TB per object.
public struct PartSizePolicy: Sendable, Hashable {
    public static let minimumPartSize: Int64 = 5 << 20
    public static let maximumPartSize: Int64 = 5 << 30
    public static let maximumPartCount = 1000
    public static let maximumObjectSize: Int64 = 5_000_000_000_000

    /// The size used when the object is small enough: larger parts mean
    /// fewer requests and better throughput, at the cost of memory per part.
    /// 8 MiB keeps a streaming upload (3 parts resident) at 24 MiB.
    public var preferredPartSize: Int64

    public init(preferredPartSize: Int64 = 8 << 20) {
        self.preferredPartSize = max(PartSizePolicy.minimumPartSize, min(preferredPartSize, PartSizePolicy.maximumPartSize))
    }

    /// The part size for an object of `objectSize` bytes: at least
    /// max(5 MiB, ceil(size / 1000)), at least the preferred size, rounded up
    /// to a whole MiB.
    public func partSize(forObjectSize objectSize: Int64) -> Int64 {
        let needed = (objectSize + Int64(PartSizePolicy.maximumPartCount) - 1) / Int64(PartSizePolicy.maximumPartCount)
        let size = max(PartSizePolicy.minimumPartSize, needed, preferredPartSize)
        let mib: Int64 = 1 << 20
        return min(PartSizePolicy.maximumPartSize, (size + mib - 1) / mib * mib)
    }

    /// For a stream of unknown length: the size of part `partNumber` (1-based).
    /// Sizes double every 100 parts from the preferred size, so 1000 parts
    /// reach well beyond any volume while small streams keep small parts.
    public func partSize(forPartNumber partNumber: Int) -> Int64 {
        let tier = max(0, (partNumber - 1) / 100)
        var size = preferredPartSize
        for _ in 0..<tier where size < PartSizePolicy.maximumPartSize { size *= 2 }
        return min(size, PartSizePolicy.maximumPartSize)
    }

    /// Whether an object of `objectSize` bytes should go as one PUT.
    public func usesSinglePut(objectSize: Int64) -> Bool { objectSize <= preferredPartSize }
}
