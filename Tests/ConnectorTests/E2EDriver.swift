import Foundation
import PluginTestSupport
import QCOW2
import XCTest

/// Drives the built binary through whole backup and restore sessions.
struct E2EDriver: @unchecked Sendable {
    // `@unchecked Sendable`: the fixture is immutable after init.
    let fixture: SimulatorFixture

    typealias File = SessionDriver.File
    typealias WriteResult = SessionDriver.Answer

    /// open, list, concurrent reads (one task per file, 1 MiB reads), close;
    /// the first error is thrown.
    func backup(_ config: [String: String]) async throws -> (files: [File], summary: [String: Any], progress: [[String: Any]]) {
        let plugin = try PluginProcess()
        defer { plugin.finish() }
        let outcome = try await SessionDriver.backup(plugin, config)
        if let error = outcome.errors.first { throw error }
        XCTAssertEqual(outcome.opened?["type"] as? String, "scaleway-instance")
        XCTAssertEqual(outcome.opened?["flags"] as? [String], ["stream"])
        return (outcome.files, outcome.closeResult?["summary"] as! [String: Any], outcome.progress)
    }

    /// open, one file at a time in walk order (1 MiB chunks), close: each
    /// file's last answer, and close's (open's error when open failed).
    func restore(_ files: [File], config: [String: String]) async throws -> (outcomes: [String: WriteResult], close: WriteResult) {
        let plugin = try PluginProcess()
        defer { plugin.finish() }
        let outcome = try await SessionDriver.restore(plugin, files, config: config)
        guard outcome.opened != nil else { return ([:], .failed(outcome.errors[0])) }
        if let error = outcome.closeError { return (outcome.writes, .failed(error)) }
        return (outcome.writes, .ok(outcome.closeResult?["summary"] as! [String: Any]))
    }

    /// Checks with qemu-img that `image` holds exactly volume `id`'s content.
    ///
    /// Default: `qemu-img compare` of the image with the simulator's sparse
    /// volume file (fast: holes are skipped) plus the virtual size. With
    /// PLAKAR_SCALEWAY_HEAVY=1 also `qemu-img convert -O raw` and the raw
    /// SHA-256 against `/_sim/volumes/{id}/digest`.
    func assertImage(_ image: Data, holdsVolume id: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        let same = try fixture.compare(image: image, withVolume: id)
        let volumeFile = fixture.volumeFile(id)
        XCTAssertEqual(same, 0, "qemu-img compare: the image differs from volume \(id)", file: file, line: line)
        let header = try QCOW2Header.parse(Array(image.prefix(4096)))
        let size = (try FileManager.default.attributesOfItem(atPath: volumeFile)[.size] as? NSNumber)?.uint64Value
        XCTAssertEqual(header.virtualSize, size, "virtual size of the image of \(id)", file: file, line: line)
        if ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_HEAVY"] == "1" {
            let digest = try await fixture.digest(volume: id)
            XCTAssertEqual(try rawDigest(of: image), digest, "raw digest of \(id)", file: file, line: line)
        }
    }

    /// qemu-img converts `image` to raw; returns the raw content's SHA-256.
    func rawDigest(of image: Data) throws -> String {
        let dir = fixture.directory
        let qcow = dir + "/check-\(UUID().uuidString).qcow2", raw = qcow + ".raw"
        defer { try? FileManager.default.removeItem(atPath: qcow); try? FileManager.default.removeItem(atPath: raw) }
        try image.write(to: URL(fileURLWithPath: qcow))
        let (status, _) = try runCommand(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", qcow, raw])
        XCTAssertEqual(status, 0, "qemu-img convert failed")
        return try sha256(file: raw)
    }

}
