import Foundation
import QCOW2

/// ``DiskImageCodec`` on the project's QCOW2 module: the streaming v3
/// writer for exports, the header validator and the v2/v3 reader (with
/// zlib-compressed clusters) for imports.
struct QCOW2Codec: DiskImageCodec {
    func export(raw source: String, to destination: String) throws {
        let writer = QCOW2Writer(source: try SparseFileSource(path: source))
        try writer.write(toPath: destination)
    }

    func inspect(image path: String) throws -> ImageFacts {
        let prefix: [UInt8]
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            prefix = Array(try handle.read(upToCount: 1 << 20) ?? Data())
        }
        do {
            let header = try QCOW2Header.validate(prefix: prefix)
            return ImageFacts(virtualSize: Int64(header.virtualSize))
        } catch let error as QCOW2Error {
            throw Self.rejection(error)
        }
    }

    func decode(image path: String, toRaw destination: String) throws {
        do {
            _ = try QCOW2Inspector.inspect(path: path)
            let reader = try QCOW2Reader(path: path)
            try reader.copy(toSparseFileAt: destination)
        } catch let error as QCOW2Error {
            throw Self.rejection(error)
        }
    }

    /// Maps the module's reasons onto what the import service distinguishes.
    static func rejection(_ error: QCOW2Error) -> ImageRejection {
        let kind: ImageRejection.Kind = switch error.reason {
        case .encrypted: .encrypted
        case .backingFile: .backingFile
        case .zstdCompression: .zstdCompression
        case .notQCOW2, .unsupportedVersion: .notQCOW2
        case .virtualSize: .virtualSize
        default: .corrupt
        }
        return ImageRejection(kind: kind, message: error.message)
    }
}
