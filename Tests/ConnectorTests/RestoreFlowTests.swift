import JSONRPC
import PluginProtocol
import XCTest
@testable import ScalewayConnector

/// The restore flow against the in-memory ``FakeCloud``.
final class RestoreFlowTests: XCTestCase {
    let fast = Poller(initialInterval: .milliseconds(1), maxInterval: .milliseconds(5))

    /// Backs web-01 up through the importer and returns the files in walk order.
    static func backup(_ cloud: FakeCloud) async throws -> [(path: String, info: FileInfo, bytes: [UInt8])] {
        var c = ConfigTests.base
        c["location"] = "scaleway-instance://web-01"
        let importer = ScalewayImporter(config: try ConnectorConfig.parse(c, role: .importer), session: cloud,
                                        notifier: RecordingNotifier(),
                                        poller: Poller(initialInterval: .milliseconds(1), maxInterval: .milliseconds(5)))
        _ = try await importer.open()
        var files: [(String, FileInfo, [UInt8])] = []
        for record in try await importer.list().sorted(by: { $0.pathname < $1.pathname }) {
            guard let info = record.fileInfo else { continue }
            if info.mode & FileInfo.Mode.directory != 0 { files.append((record.pathname, info, [])); continue }
            let bytes = try await BackupFlowTests.readAll(importer, record.pathname)
            var fixed = info
            fixed.size = Int64(bytes.count)
            files.append((record.pathname, fixed, bytes))
        }
        _ = try await importer.close()
        return files
    }

    func exporter(_ cloud: FakeCloud, _ extra: [String: String] = [:]) throws -> ScalewayExporter {
        var c = ConfigTests.base
        c["location"] = "scaleway-instance://"
        c.merge(extra) { $1 }
        return ScalewayExporter(config: try ConnectorConfig.parse(c, role: .exporter), session: cloud,
                                notifier: RecordingNotifier(), checkHeader: QCOW2HeaderCheck.check, poller: fast)
    }

    /// Writes files as the host would; returns each file's outcome.
    @discardableResult
    func write(_ exporter: ScalewayExporter, _ files: [(path: String, info: FileInfo, bytes: [UInt8])],
               chunk: Int = 1 << 20, base64: Bool = false) async throws -> [FileOutcome] {
        var outcomes: [FileOutcome] = []
        for file in files {
            try await exporter.beginFile(path: file.path, info: file.info)
            var offset = 0
            var refused = false
            while offset < file.bytes.count && !refused {
                let end = min(file.bytes.count, offset + chunk)
                do {
                    if base64 {
                        try await exporter.writeChunk(path: file.path, offset: Int64(offset), data: Self.text(file.bytes[offset..<end]))
                    } else {
                        try await exporter.writeChunk(path: file.path, offset: Int64(offset), bytes: Array(file.bytes[offset..<end]))
                    }
                } catch { refused = true }
                offset = end
            }
            outcomes.append(try await exporter.finishFile(path: file.path))
        }
        return outcomes
    }

    /// A `write` chunk's data as the session hands it over: still in base64.
    /// With `damagedAt`, the character there is replaced by a `*`.
    static func text(_ bytes: ArraySlice<UInt8>, damagedAt damage: Int? = nil) throws -> Base64Text {
        var encoded = Base64.encode(Array(bytes))
        if let damage { encoded[damage] = UInt8(ascii: "*") }
        return try IncomingRequest(id: .number("1"), method: "write", params: ["data": .string(String(decoding: encoded, as: UTF8.self))])
            .base64Text("data")
    }

    func testChunksInBase64AreDecodedIntoThePartsWhateverTheirSize() async throws {
        // The images (4.9 MB) go in one 5 MiB part each: chunks that are not
        // whole MiB end the header gathering mid-chunk and then decode in
        // place at odd offsets (chunks straddling parts: DataPathTests).
        for chunk in [1 << 20, 700_001, (3 << 20) + 1] {
            let cloud = FakeCloud()
            let original = cloud.seedWeb01()
            let files = try await Self.backup(cloud)
            let exporter = try exporter(cloud)
            _ = try await exporter.open()
            let outcomes = try await write(exporter, files, chunk: chunk, base64: true)
            XCTAssertTrue(outcomes.allSatisfy { $0.error == nil }, "chunk \(chunk): \(outcomes.compactMap(\.error))")
            try await assertImagesRestored(cloud, original, summary: try await exporter.close(), "chunk \(chunk)")
            XCTAssertEqual(cloud.openUploads, 0)
        }
    }

    func testARefusedBase64ChunkTakesNothingAndTheImageGoesOn() async throws {
        let cloud = FakeCloud()
        let original = cloud.seedWeb01()
        let files = try await Self.backup(cloud)
        let exporter = try exporter(cloud)
        _ = try await exporter.open()
        var outcomes: [FileOutcome] = []
        for file in files {
            try await exporter.beginFile(path: file.path, info: file.info)
            var offset = 0
            while offset < file.bytes.count {
                let end = min(file.bytes.count, offset + (1 << 20))
                if file.path.hasSuffix(".qcow2") && offset == 2 << 20 {
                    // A damaged chunk in the middle of the upload: refused, nothing taken.
                    let text = try Self.text(file.bytes[offset..<end], damagedAt: 1000)
                    do {
                        try await exporter.writeChunk(path: file.path, offset: Int64(offset), data: text)
                        XCTFail("a damaged chunk was taken")
                    } catch let invalid as Base64Text.Invalid {
                        XCTAssertTrue(invalid.response.message.contains("offset 1000"), invalid.response.message)
                    }
                }
                try await exporter.writeChunk(path: file.path, offset: Int64(offset), data: Self.text(file.bytes[offset..<end]))
                offset = end
            }
            outcomes.append(try await exporter.finishFile(path: file.path))
        }
        XCTAssertTrue(outcomes.allSatisfy { $0.error == nil }, "\(outcomes.compactMap(\.error))")
        try await assertImagesRestored(cloud, original, summary: try await exporter.close())
    }

    /// The restored server's volumes hold the images of `original`'s.
    func assertImagesRestored(_ cloud: FakeCloud, _ original: CloudServer, summary: JSONValue, _ context: String = "",
                              line: UInt = #line) async throws {
        let server = try await cloud.getServer(zone: Zone("fr-par-1")!, id: try XCTUnwrap(summary["server"]?.stringValue))
        for index in 0...2 {
            XCTAssertEqual(cloud.content(ofVolume: server.volumes[index]!.id)!,
                           FakeCloud.qcow2(cloud.content(ofVolume: original.volumes[index]!.id)!), "\(context) volume \(index)", line: line)
        }
    }

    func testNewInstanceRoundTrip() async throws {
        let cloud = FakeCloud()
        let original = cloud.seedWeb01()
        let files = try await Self.backup(cloud)
        let exporter = try exporter(cloud)
        _ = try await exporter.open()
        let outcomes = try await write(exporter, files)
        XCTAssertTrue(outcomes.allSatisfy { $0.error == nil }, "\(outcomes.compactMap(\.error))")
        let summary = try await exporter.close()
        XCTAssertEqual(summary["mode"], "new")
        let serverID = try XCTUnwrap(summary["server"]?.stringValue)
        let server = try await cloud.getServer(zone: Zone("fr-par-1")!, id: serverID)
        XCTAssertEqual(server.name, "web-01-restored")
        XCTAssertEqual(server.commercialType, "DEV1-S")
        XCTAssertEqual(server.tags, ["web", "prod"])
        XCTAssertEqual(server.volumes.keys.sorted(), [0, 1, 2])
        XCTAssertEqual(server.volumes[0]?.volumeType, "l_ssd")
        for index in 0...2 {
            let restored = cloud.content(ofVolume: server.volumes[index]!.id)!
            // The fake's volumes from imports hold the image: compare images.
            XCTAssertEqual(restored, FakeCloud.qcow2(cloud.content(ofVolume: original.volumes[index]!.id)!), "volume \(index)")
        }
        XCTAssertTrue(cloud.calls.contains("CREATE sbs volume fast 15000"), "perf_iops kept")
        XCTAssertEqual(cloud.snapshotIDs.count, 0, "imported snapshots cleaned")
        XCTAssertEqual(cloud.objectKeys.count, 0, "staging cleaned")
        XCTAssertEqual(cloud.openUploads, 0)
    }

    func testBadImagesAreRefusedAndNothingLeaks() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        let files = try await Self.backup(cloud)
        let image = files.first { $0.path.hasSuffix(".qcow2") && $0.path.contains("/1-") }!
        let before = Set(cloud.state.withLock { $0.volumes.keys })
        var bad: [(String, [UInt8], String)] = []
        bad.append(("not QCOW2", Array("just some text, definitely not an image".utf8), "not_qcow2"))
        var encrypted = image.bytes
        encrypted[35] = 1 // crypt_method = AES
        bad.append(("encrypted", encrypted, "encrypted"))
        bad.append(("truncated", Array(image.bytes.prefix(image.bytes.count / 3)), "truncated"))
        for (what, bytes, reason) in bad {
            let exporter = try exporter(cloud)
            _ = try await exporter.open()
            var info = image.info
            info.size = Int64(bytes.count)
            let outcomes = try await write(exporter, files.filter { !$0.path.hasSuffix(".qcow2") } + [(image.path, info, bytes)])
            let outcome = outcomes.last!
            XCTAssertNotNil(outcome.error, what)
            XCTAssertTrue(outcome.error?.message.contains(reason) ?? false, "\(what): \(String(describing: outcome.error))")
            do {
                _ = try await exporter.close()
                XCTFail("\(what): close succeeded")
            } catch let error as PluginError {
                XCTAssertTrue(error.message.contains(image.path), error.message)
            }
            XCTAssertEqual(cloud.openUploads, 0, what)
            XCTAssertEqual(cloud.objectKeys, [], what)
            XCTAssertEqual(cloud.snapshotIDs, [], what)
            XCTAssertEqual(Set(cloud.state.withLock { $0.volumes.keys }), before, what)
        }
    }

    func testUnknownAndDuplicateFiles() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        let exporter = try exporter(cloud, ["zone": "fr-par-1", "project_id": FakeCloud.project])
        _ = try await exporter.open()
        let info = FileInfo(name: "x", size: 3, mode: 0o644, modTime: Timestamp.now())
        let outcomes = try await write(exporter, [("/etc/passwd", info, [1, 2, 3]), ("/../x", info, [1, 2, 3])])
        XCTAssertTrue(outcomes[0].error?.message.contains("not part of a scaleway-instance backup") ?? false)
        XCTAssertTrue(outcomes[1].error?.message.contains("..") ?? false)
        let summary = try await exporter.close()
        XCTAssertEqual(summary["status"], "nothing to restore")
    }

    func testInPlaceRefusedWhileRunningThenForced() async throws {
        let cloud = FakeCloud()
        let original = cloud.seedWeb01()
        let files = try await Self.backup(cloud)
        let target = cloud.seedWeb01(name: "target", state: "running")
        do {
            _ = try await exporter(cloud, ["location": "scaleway-instance://target", "restore_mode": "in_place"]).open()
            XCTFail("in-place restore of a running instance accepted")
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .state)
            XCTAssertTrue(error.message.contains("running"))
        }
        let exporter = try exporter(cloud, ["location": "scaleway-instance://\(target.id)", "restore_mode": "in_place", "force": "true"])
        _ = try await exporter.open()
        try await write(exporter, files)
        let summary = try await exporter.close()
        XCTAssertEqual(summary["mode"], "in_place")
        let kept = Set(summary["detached_and_kept"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        XCTAssertEqual(kept, Set(target.volumes.values.map(\.id)))
        for id in kept { XCTAssertNotNil(cloud.content(ofVolume: id), "detached volume \(id) deleted") }
        let after = try await cloud.getServer(zone: Zone("fr-par-1")!, id: target.id)
        XCTAssertEqual(after.state, "running", "powered back on")
        XCTAssertEqual(cloud.content(ofVolume: after.volumes[1]!.id), FakeCloud.qcow2(cloud.content(ofVolume: original.volumes[1]!.id)!))
    }

    func testPartialRestoreOfOneVolume() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        let files = try await Self.backup(cloud)
        let target = cloud.seedWeb01(name: "target", state: "stopped")
        // Plakar strips the prefix: the sidecar and the image arrive alone.
        let single = files.filter { $0.path.contains("/2-") }.map { (path: String($0.path.dropFirst("/volumes".count)), info: $0.info, bytes: $0.bytes) }
        XCTAssertEqual(single.count, 2)
        let exporter = try exporter(cloud, ["location": "scaleway-instance://target"])
        _ = try await exporter.open()
        let outcomes = try await write(exporter, single)
        XCTAssertTrue(outcomes.allSatisfy { $0.error == nil }, "\(outcomes)")
        let summary = try await exporter.close()
        XCTAssertEqual(summary["mode"], "volumes")
        let after = try await cloud.getServer(zone: Zone("fr-par-1")!, id: target.id)
        XCTAssertEqual(after.volumes.count, 4)
        XCTAssertEqual(Set(after.volumes.values.map(\.id)).isSuperset(of: target.volumes.values.map(\.id)), true)
    }

    func testCutShortByEOF() async throws {
        let cloud = FakeCloud()
        cloud.seedWeb01()
        let files = try await Self.backup(cloud)
        let image = files.first { $0.path.hasSuffix(".qcow2") }!
        let exporter = try exporter(cloud)
        _ = try await exporter.open()
        try await write(exporter, files.filter { !$0.path.hasSuffix(".qcow2") })
        try await exporter.beginFile(path: image.path, info: image.info)
        try await exporter.writeChunk(path: image.path, offset: 0, bytes: Array(image.bytes.prefix(100_000)))
        do {
            _ = try await exporter.close()
            XCTFail("close accepted a file cut short")
        } catch let error as PluginError {
            XCTAssertTrue(error.message.contains("cut short"), error.message)
        }
        XCTAssertEqual(cloud.openUploads, 0)
        XCTAssertEqual(cloud.objectKeys, [])
    }
}
