/// The fixed header of a QCOW2 image (versions 2 and 3) and its extensions.
///
/// Field names follow QEMU's `docs/interop/qcow2.txt`. Parse one with
/// ``parse(_:)`` (structure only) or ``validate(prefix:virtualSizeRange:)``
/// (structure plus the import policy: no encryption, backing file, zstd,
/// dirty/corrupt image), which both need only the first bytes of the image:
/// the header and its extensions live in the first cluster, so the first
/// 64 KiB (or the whole image if shorter) are always enough for images with
/// clusters up to 64 KiB, and the first cluster for larger ones.
public struct QCOW2Header: Sendable, Equatable {
    /// `QFI\xfb`.
    public static let magic: UInt32 = 0x5146_49FB
    /// Smallest and largest `cluster_bits` QEMU accepts (512 B ... 2 MiB).
    public static let clusterBitsRange: ClosedRange<UInt32> = 9...21
    /// Bytes of the version 2 header.
    public static let version2Length = 72
    /// Smallest version 3 header.
    public static let version3MinimumLength = 104

    /// Incompatible feature bits (`incompatible_features`).
    public struct IncompatibleFeatures: OptionSet, Sendable, Hashable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        public static let dirty = IncompatibleFeatures(rawValue: 1 << 0)
        public static let corrupt = IncompatibleFeatures(rawValue: 1 << 1)
        public static let externalDataFile = IncompatibleFeatures(rawValue: 1 << 2)
        public static let compressionType = IncompatibleFeatures(rawValue: 1 << 3)
        public static let extendedL2 = IncompatibleFeatures(rawValue: 1 << 4)
        /// Every bit the specification defines.
        public static let known: IncompatibleFeatures = [.dirty, .corrupt, .externalDataFile, .compressionType, .extendedL2]
    }

    /// `compression_type` values.
    public enum CompressionType: UInt8, Sendable {
        case deflate = 0
        case zstd = 1
    }

    public var version: UInt32
    public var backingFileOffset: UInt64
    public var backingFileSize: UInt32
    public var clusterBits: UInt32
    /// Virtual disk size in bytes.
    public var virtualSize: UInt64
    /// 0 none, 1 AES, 2 LUKS.
    public var cryptMethod: UInt32
    /// Number of L1 entries.
    public var l1Size: UInt32
    public var l1TableOffset: UInt64
    public var refcountTableOffset: UInt64
    public var refcountTableClusters: UInt32
    public var snapshotCount: UInt32
    public var snapshotsOffset: UInt64
    public var incompatibleFeatures: IncompatibleFeatures
    public var compatibleFeatures: UInt64
    public var autoclearFeatures: UInt64
    public var refcountOrder: UInt32
    public var headerLength: UInt32
    /// Raw `compression_type` byte (0 when the header has no such field).
    public var compressionTypeRaw: UInt8
    /// Header extensions, in file order, without the end marker.
    public var extensions: [QCOW2HeaderExtension]
    /// The backing file name when it lies within the parsed bytes.
    public var backingFileName: String?

    public var clusterSize: UInt64 { 1 << UInt64(clusterBits) }
    /// Entries in one L2 table (without extended L2 entries).
    public var l2Entries: UInt64 { clusterSize / 8 }
    public var refcountBits: UInt64 { 1 << UInt64(refcountOrder) }
    public var isEncrypted: Bool { cryptMethod != 0 || extensions.contains { $0.kind == .fullDiskEncryption } }
    public var hasBackingFile: Bool { backingFileOffset != 0 }
    public var isDirty: Bool { incompatibleFeatures.contains(.dirty) }
    public var isMarkedCorrupt: Bool { incompatibleFeatures.contains(.corrupt) }
    /// The compression of compressed clusters, `nil` for an unknown type.
    public var compressionType: CompressionType? { CompressionType(rawValue: compressionTypeRaw) }
    /// Smallest L1 size (entries) that covers ``virtualSize``.
    public var requiredL1Size: UInt64 {
        let perL1 = clusterSize * l2Entries
        return virtualSize / perL1 + (virtualSize % perL1 == 0 ? 0 : 1)
    }

    /// A version 3 header for an image written by this module: no backing
    /// file, no encryption, deflate, 16-bit refcounts.
    public init(virtualSize: UInt64, clusterBits: UInt32, l1Size: UInt32, l1TableOffset: UInt64,
                refcountTableOffset: UInt64, refcountTableClusters: UInt32) {
        version = 3
        backingFileOffset = 0
        backingFileSize = 0
        self.clusterBits = clusterBits
        self.virtualSize = virtualSize
        cryptMethod = 0
        self.l1Size = l1Size
        self.l1TableOffset = l1TableOffset
        self.refcountTableOffset = refcountTableOffset
        self.refcountTableClusters = refcountTableClusters
        snapshotCount = 0
        snapshotsOffset = 0
        incompatibleFeatures = []
        compatibleFeatures = 0
        autoclearFeatures = 0
        refcountOrder = 4
        headerLength = 112
        compressionTypeRaw = 0
        extensions = []
        backingFileName = nil
    }

    /// The on-disk bytes of this header, its extensions and the end marker.
    ///
    /// Writes version 3 fields only when ``version`` is 3.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(Int(headerLength) + 64)
        out.appendBE32(Self.magic)
        out.appendBE32(version)
        out.appendBE64(backingFileOffset)
        out.appendBE32(backingFileSize)
        out.appendBE32(clusterBits)
        out.appendBE64(virtualSize)
        out.appendBE32(cryptMethod)
        out.appendBE32(l1Size)
        out.appendBE64(l1TableOffset)
        out.appendBE64(refcountTableOffset)
        out.appendBE32(refcountTableClusters)
        out.appendBE32(snapshotCount)
        out.appendBE64(snapshotsOffset)
        if version >= 3 {
            out.appendBE64(incompatibleFeatures.rawValue)
            out.appendBE64(compatibleFeatures)
            out.appendBE64(autoclearFeatures)
            out.appendBE32(refcountOrder)
            out.appendBE32(headerLength)
            if headerLength > 104 {
                out.append(compressionTypeRaw)
            }
            while out.count < Int(headerLength) { out.append(0) }
        }
        for ext in extensions {
            out.appendBE32(ext.type)
            out.appendBE32(UInt32(ext.data.count))
            out.append(contentsOf: ext.data)
            while out.count % 8 != 0 { out.append(0) }
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: 8))  // end of extensions
        return out
    }
}
