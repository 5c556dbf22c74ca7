/// One header extension (type, length, data) following the QCOW2 header.
public struct QCOW2HeaderExtension: Sendable, Equatable {
    /// Extension types named by the specification.
    public enum Kind: UInt32, Sendable {
        case backingFileFormat = 0xE279_2ACA
        case featureNameTable = 0x6803_F857
        case bitmaps = 0x2385_2875
        case fullDiskEncryption = 0x0537_BE77
        case externalDataFile = 0x4441_5441
    }

    /// The raw type code.
    public var type: UInt32
    /// The extension payload (without padding).
    public var data: [UInt8]

    public init(type: UInt32, data: [UInt8]) {
        self.type = type
        self.data = data
    }

    /// The known kind, `nil` for an extension this module does not know
    /// (unknown extensions are ignorable by specification).
    public var kind: Kind? { Kind(rawValue: type) }
}
