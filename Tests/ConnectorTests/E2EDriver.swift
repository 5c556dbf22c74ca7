import Foundation
import QCOW2
import XCTest

/// Drives the built binary through whole backup and restore sessions.
struct E2EDriver: @unchecked Sendable {
    // `@unchecked Sendable`: the fixture is immutable after init.
    let fixture: SimulatorFixture

    struct File: @unchecked Sendable {
        var path: String
        var info: [String: Any]
        var bytes: Data
        var isDirectory: Bool { ((info["mode"] as? Int) ?? 0) & (1 << 31) != 0 }
    }

    /// open, list, concurrent reads (one task per file, 1 MiB reads), close.
    func backup(_ config: [String: String]) async throws -> (files: [File], summary: [String: Any], progress: [[String: Any]]) {
        let plugin = try PluginProcess()
        defer { plugin.finish() }
        let opened = try await plugin.call("open", ["protocol": "scaleway-instance", "mode": "importer", "config": config,
                                                    "host": ["hostname": "test", "max_concurrency": 4]])
        XCTAssertEqual(opened["type"] as? String, "scaleway-instance")
        XCTAssertEqual(opened["flags"] as? [String], ["stream"])
        let records = try await plugin.call("list")["records"] as! [[String: Any]]
        let files = try await withThrowingTaskGroup(of: File.self) { group in
            for record in records {
                let path = record["pathname"] as! String
                let info = PluginProcess.Message(object: record["fileinfo"] as! [String: Any])
                group.addTask {
                    var file = File(path: path, info: info.object, bytes: Data())
                    if file.isDirectory { return file }
                    while true {
                        let r = try await plugin.call("read", ["path": path, "offset": file.bytes.count, "length": 1 << 20])
                        file.bytes.append(Data(base64Encoded: r["data"] as! String)!)
                        if r["eof"] as! Bool { return file }
                    }
                }
            }
            var out: [File] = []
            for try await file in group { out.append(file) }
            return out.sorted { $0.path < $1.path }
        }
        let summary = try await plugin.call("close")["summary"] as! [String: Any]
        let progress = plugin.notifications.filter { $0["method"] as? String == "progress" }.map { $0["params"] as! [String: Any] }
        return (files, summary, progress)
    }

    enum WriteResult: @unchecked Sendable { case ok([String: Any]), failed(PluginProcess.RPCError) }

    /// open, one file at a time in walk order (1 MiB chunks), close.
    func restore(_ files: [File], config: [String: String]) async throws -> (outcomes: [String: WriteResult], close: WriteResult) {
        let plugin = try PluginProcess()
        defer { plugin.finish() }
        do {
            _ = try await plugin.call("open", ["protocol": "scaleway-instance", "mode": "exporter", "config": config])
        } catch let error as PluginProcess.RPCError {
            return ([:], .failed(error))
        }
        var outcomes: [String: WriteResult] = [:]
        for file in files.sorted(by: { $0.path < $1.path }) {
            var offset = 0
            var info = file.info
            info["size"] = file.isDirectory ? 0 : file.bytes.count
            repeat {
                let end = min(file.bytes.count, offset + (1 << 20))
                var params: [String: Any] = ["path": file.path, "offset": offset,
                                             "data": file.bytes[offset..<end].base64EncodedString(), "eof": end == file.bytes.count]
                if offset == 0 { params["fileinfo"] = info }
                do {
                    let r = try await plugin.call("write", params)
                    if end == file.bytes.count { outcomes[file.path] = .ok(r) }
                } catch let error as PluginProcess.RPCError {
                    outcomes[file.path] = .failed(error)
                    if end < file.bytes.count {
                        // The host ends a refused file with its last chunk.
                        _ = try? await plugin.call("write", ["path": file.path, "offset": end, "data": "", "eof": true])
                    }
                    break
                }
                offset = end
            } while offset < file.bytes.count
        }
        do {
            return (outcomes, .ok(try await plugin.call("close")["summary"] as! [String: Any]))
        } catch let error as PluginProcess.RPCError {
            return (outcomes, .failed(error))
        }
    }

    /// Checks with qemu-img that `image` holds exactly volume `id`'s content.
    ///
    /// Default: `qemu-img compare` of the image with the simulator's sparse
    /// volume file (fast: holes are skipped) plus the virtual size. With
    /// PLAKAR_SCALEWAY_HEAVY=1 also `qemu-img convert -O raw` and the raw
    /// SHA-256 against `/_sim/volumes/{id}/digest`.
    func assertImage(_ image: Data, holdsVolume id: String, file: StaticString = #filePath, line: UInt = #line) async throws {
        let qcow = fixture.directory + "/check-\(UUID().uuidString).qcow2"
        defer { try? FileManager.default.removeItem(atPath: qcow) }
        try image.write(to: URL(fileURLWithPath: qcow))
        let volumeFile = fixture.directory + "/account/volumes/\(id).img"
        let (same, _) = try runCommand(["qemu-img", "compare", "-q", "-f", "qcow2", "-F", "raw", qcow, volumeFile])
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
