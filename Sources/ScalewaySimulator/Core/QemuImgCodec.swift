import Foundation

/// ``DiskImageCodec`` through `qemu-img` (Debian `qemu-utils`).
///
/// Used while the QCOW2 module's reader is unavailable and as the
/// independent cross-check; the service itself uses ``QCOW2Codec``.
struct QemuImgCodec: DiskImageCodec {
    var executable: String = "/usr/bin/qemu-img"

    struct Failure: Error, CustomStringConvertible {
        var arguments: [String]
        var status: Int32
        var output: String
        var description: String { "qemu-img \(arguments.joined(separator: " ")) exited \(status): \(output)" }
    }

    @discardableResult
    func run(_ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        let errors = Pipe()
        process.standardOutput = pipe
        process.standardError = errors
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        let errorText = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(arguments: arguments, status: process.terminationStatus,
                          output: String(decoding: errorText, as: UTF8.self))
        }
        return output
    }

    func export(raw source: String, to destination: String) throws {
        try run(["convert", "-f", "raw", "-O", "qcow2", "-o", "compat=1.1,cluster_size=65536", source, destination])
    }

    func inspect(image path: String) throws -> ImageFacts {
        let data: Data
        do { data = try run(["info", "--output=json", path]) } catch {
            throw ImageRejection(kind: .notQCOW2, message: "the object is not a QCOW2 image")
        }
        guard let info = try JSONSerialization.jsonObject(with: data) as? JSONObject,
              info.string("format") == "qcow2", let size = info.int64("virtual-size")
        else { throw ImageRejection(kind: .notQCOW2, message: "the object is not a QCOW2 image") }
        if info.bool("encrypted") == true {
            throw ImageRejection(kind: .encrypted, message: "encrypted images are not supported")
        }
        if info.hasValue("backing-filename") {
            throw ImageRejection(kind: .backingFile, message: "images with a backing file are not supported")
        }
        if let specific = info.object("format-specific")?.object("data"),
           specific.string("compression-type") == "zstd" {
            throw ImageRejection(kind: .zstdCompression, message: "zstd-compressed images are not supported")
        }
        return ImageFacts(virtualSize: size)
    }

    func decode(image path: String, toRaw destination: String) throws {
        do { try run(["convert", "-f", "qcow2", "-O", "raw", path, destination]) } catch {
            throw ImageRejection(kind: .corrupt, message: "the image's data could not be read")
        }
    }
}
