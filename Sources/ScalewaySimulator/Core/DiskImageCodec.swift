import Foundation

/// Why an image given to an import is refused.
struct ImageRejection: Error, CustomStringConvertible {
    enum Kind: String {
        /// Not a QCOW2 image at all (bad magic, truncated header).
        case notQCOW2 = "not_qcow2"
        case encrypted
        case zstdCompression = "zstd_compression"
        case backingFile = "backing_file"
        /// A QCOW2 header that parses but whose tables or clusters are broken.
        case corrupt
        case virtualSize = "virtual_size"
    }

    var kind: Kind
    var message: String
    var description: String { "\(kind.rawValue): \(message)" }
}

/// Facts read from an image's header before an import starts.
struct ImageFacts: Sendable, Equatable {
    var virtualSize: Int64
}

/// Converts between volume contents (raw sparse files) and QCOW2 images.
protocol DiskImageCodec: Sendable {
    /// Writes a QCOW2 v3 image (64 KiB clusters, unallocated clusters for
    /// holes) of the raw sparse file `source` to `destination`.
    func export(raw source: String, to destination: String) throws

    /// Reads the header of the image at `path`; throws ``ImageRejection``
    /// for images the service refuses.
    func inspect(image path: String) throws -> ImageFacts

    /// Decodes the image at `path` into a raw sparse file of its virtual size.
    func decode(image path: String, toRaw destination: String) throws
}
