/// Why a QCOW2 image was refused or could not be produced.
///
/// Every failure of this module is a `QCOW2Error`. ``reason`` is a stable,
/// machine-readable code (it appears in logs and in API error bodies built
/// from it, so never rename one); ``message`` tells a human what is wrong and
/// what to do about it.
public struct QCOW2Error: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable code naming the class of failure.
    public struct Reason: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The bytes do not start with the QCOW2 magic `QFI\xfb`.
        public static let notQCOW2 = Reason(rawValue: "not_qcow2")
        /// The header's version is neither 2 nor 3.
        public static let unsupportedVersion = Reason(rawValue: "unsupported_version")
        /// The image is encrypted (AES or LUKS).
        public static let encrypted = Reason(rawValue: "encrypted")
        /// The image refers to a backing file.
        public static let backingFile = Reason(rawValue: "backing_file")
        /// Compressed clusters use zstd instead of deflate.
        public static let zstdCompression = Reason(rawValue: "zstd_compression")
        /// The image ends before a structure it references.
        public static let truncated = Reason(rawValue: "truncated")
        /// A structure is inconsistent (bad offset, alignment, reserved bits,
        /// corrupt flag, undecodable compressed cluster...).
        public static let corrupt = Reason(rawValue: "corrupt")
        /// The image was not closed cleanly (dirty bit): its refcounts may be stale.
        public static let dirty = Reason(rawValue: "dirty")
        /// A valid QCOW2 feature this module does not handle (external data
        /// file, extended L2 entries, unknown incompatible bits, cluster size).
        public static let unsupportedFeature = Reason(rawValue: "unsupported_feature")
        /// The virtual size is outside the accepted range.
        public static let virtualSize = Reason(rawValue: "virtual_size")
        /// A request outside the image (read past the virtual size...).
        public static let invalidArgument = Reason(rawValue: "invalid_argument")
        /// The operating system refused an I/O operation.
        public static let io = Reason(rawValue: "io")
        /// The data source of a writer failed.
        public static let source = Reason(rawValue: "source")
    }

    /// The stable failure code.
    public let reason: Reason
    /// What is wrong and what to do about it.
    public let message: String
    /// Byte offset in the image the failure relates to, when there is one.
    public let offset: UInt64?
    /// `errno` of a failed system call, when there is one.
    public let errno: Int32?

    public init(_ reason: Reason, _ message: String, offset: UInt64? = nil, errno: Int32? = nil) {
        self.reason = reason
        self.message = message
        self.offset = offset
        self.errno = errno
    }

    public var description: String {
        var text = "qcow2 \(reason.rawValue): \(message)"
        if let offset { text += " (at byte \(offset))" }
        return text
    }
}

extension QCOW2Error {
    static func truncated(_ what: String, needed: UInt64, available: UInt64) -> QCOW2Error {
        QCOW2Error(.truncated,
                   "\(what) ends at byte \(needed) but the image has only \(available) bytes; the image is incomplete (interrupted upload or copy?): transfer it again",
                   offset: needed)
    }

    static func corrupt(_ what: String, offset: UInt64? = nil) -> QCOW2Error {
        QCOW2Error(.corrupt, "\(what); the image is damaged: run `qemu-img check` on it and recreate it from its source", offset: offset)
    }
}
