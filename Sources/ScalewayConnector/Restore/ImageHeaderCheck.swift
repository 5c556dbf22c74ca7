import PluginProtocol

/// What restore learns from an image's first bytes.
public struct ImageHeaderFacts: Sendable, Equatable {
    /// The disk's size in bytes.
    public var virtualSize: UInt64
    /// The least file length the header's own tables require: a shorter
    /// file is truncated.
    public var minimumLength: UInt64
    /// Follows the tables as the rest streams past, when the format allows.
    var extentCheck: StreamingExtentCheck?

    public init(virtualSize: UInt64, minimumLength: UInt64) {
        self.virtualSize = virtualSize
        self.minimumLength = minimumLength
    }

    public static func == (a: ImageHeaderFacts, b: ImageHeaderFacts) -> Bool {
        a.virtualSize == b.virtualSize && a.minimumLength == b.minimumLength
    }

    /// Throws a ``PluginError`` of kind `invalid_input` unless the image of
    /// `received` bytes is whole: the streamed tables' verdict when they
    /// were followed, else ``minimumLength``.
    func checkComplete(received: Int64, path: String) throws {
        if var extentCheck {
            try extentCheck.verdict(path: path)
        } else if UInt64(received) < minimumLength {
            throw PluginError(.invalidInput,
                              "\(path) is not a usable QCOW2 image (truncated): its tables reference byte \(minimumLength - 1) but the file has only \(received) bytes",
                              hint: "the image is incomplete (interrupted copy?); nothing was created")
        }
    }
}

/// Validates the first bytes of an image (at least ``prefixLength`` of
/// them, or the whole file when shorter) and throws a ``PluginError`` of
/// kind `invalid_input` naming the reason (not QCOW2, encrypted, backing
/// file, zstd, truncated...).
public typealias ImageHeaderCheck = @Sendable (_ prefix: [UInt8], _ path: String) throws -> ImageHeaderFacts

/// How many leading bytes restore gathers before validating an image.
public let imageHeaderPrefixLength = 64 << 10
