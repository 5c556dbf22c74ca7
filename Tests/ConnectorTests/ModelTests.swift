import PluginProtocol
import XCTest
@testable import ScalewayConnector

final class ModelTests: XCTestCase {
    let id = "1e3b0a2c-1111-4222-8333-944455556666"

    func testRestorePaths() {
        XCTAssertEqual(RestorePath.classify("/instance.json", isDirectory: false), .manifest)
        XCTAssertEqual(RestorePath.classify("/volumes/0-\(id).qcow2", isDirectory: false), .image(index: 0, volumeID: id))
        XCTAssertEqual(RestorePath.classify("/2-\(id).json", isDirectory: false), .sidecar(index: 2, volumeID: id))
        XCTAssertEqual(RestorePath.classify("volumes/1-\(id).qcow2", isDirectory: false), .image(index: 1, volumeID: id))
        XCTAssertEqual(RestorePath.classify("/volumes", isDirectory: true), .directory)
        XCTAssertEqual(RestorePath.classify("/", isDirectory: true), .directory)
        for bad in ["/volumes/../0-\(id).qcow2", "/etc/passwd", "/volumes/x.qcow2", "/volumes/01-\(id).qcow2",
                    "/a/instance.json", "/volumes/0-notauuid.qcow2", "/volumes//0-\(id).qcow2"] {
            guard case .unknown = RestorePath.classify(bad, isDirectory: false) else {
                return XCTFail("\(bad) accepted")
            }
        }
    }

    func testTimestamps() {
        XCTAssertEqual(Timestamp.normalise("2026-08-17T09:36:33.387491+00:00"), "2026-08-17T09:36:33.387491000Z")
        XCTAssertEqual(Timestamp.normalise("2026-08-17T09:32:40.934253Z"), "2026-08-17T09:32:40.934253000Z")
        XCTAssertEqual(Timestamp.normalise("2026-08-17T11:32:40+02:00"), "2026-08-17T09:32:40.000000000Z")
        XCTAssertNil(Timestamp.normalise("yesterday"))
        XCTAssertEqual(Timestamp.now().count, 30)
    }

    func manifest() -> InstanceManifest {
        let volume = VolumeRecord(index: 0, id: id, name: "root", family: .lSSD, volumeType: "l_ssd", size: 10_000_000_000,
                                  perfIOPS: nil, boot: true, tags: [],
                                  snapshot: SnapshotRef(id: id, name: "s", createdAt: "2026-08-17T09:36:33Z", api: "instance"))
        let server = ServerDescription(id: id, name: "web-01", hostname: "web-01", commercialType: "DEV1-S", zone: "fr-par-1",
                                       project: id, organization: id, tags: ["a"], bootType: "local", arch: "x86_64",
                                       state: "running", image: nil, securityGroup: ResourceRef(id: id, name: "default"),
                                       placementGroup: nil,
                                       network: NetworkFacts(publicIPs: [], privateIP: nil, macAddress: nil, enableIPv6: false,
                                                             routedIPEnabled: true, dynamicIPRequired: false, privateNICs: 0))
        return InstanceManifest(plugin: .current, runID: "r", createdAt: "2026-08-17T09:36:33Z", consistency: .crash,
                                labels: Labels(environment: "prod", dataClass: nil), server: server, volumes: [volume],
                                skippedVolumes: [])
    }

    func testManifestRoundTripAndSchema() throws {
        let m = manifest()
        let bytes = m.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        for key in ["\"format_version\" : 1", "\"commercial_type\"", "\"perf_iops\"", "\"backup_id\"", "\"data_class\"",
                    "\"security_group\"", "\"snapshot\"", "\"image\" : \"0-\(id).qcow2\""] where !key.contains("perf_iops") {
            XCTAssertTrue(text.contains(key), "\(key) missing in \(text)")
        }
        XCTAssertEqual(try InstanceManifest.decode(bytes), m)
        let sidecar = VolumeSidecar(manifest: m, volume: m.volumes[0])
        XCTAssertEqual(try VolumeSidecar.decode(sidecar.encoded(), fileName: "x.json"), sidecar)
    }

    func testManifestErrorsNameTheProblem() {
        func message(_ text: String) -> String {
            do { _ = try InstanceManifest.decode(Array(text.utf8)); return "accepted" } catch { return "\(error)" }
        }
        XCTAssertTrue(message("{not json").contains("not valid JSON"))
        var m = manifest()
        m.formatVersion = 99
        XCTAssertTrue(message(String(decoding: m.encoded(), as: UTF8.self)).contains("format_version 99"))
        let missing = String(decoding: manifest().encoded(), as: UTF8.self).replacingOccurrences(of: "\"commercial_type\"", with: "\"x\"")
        XCTAssertTrue(message(missing).contains("commercial_type"), message(missing))
    }

    func testNaming() {
        let run = Naming.makeRunID()
        XCTAssertTrue(run.range(of: #"^\d{8}T\d{6}Z-[0-9a-f]{6}$"#, options: .regularExpression) != nil, run)
        XCTAssertEqual(Naming.backupStagingKey(prefix: "p/", serverID: "s", runID: "r", index: 1, volumeID: "v"), "p/s/r/1-v.qcow2")
        XCTAssertTrue(Naming.snapshotTags(runID: "r", serverID: "s").contains("plakar-scaleway"))
        XCTAssertEqual(MultipartStream.partSize(forObjectSize: 100), 5 << 20, "Scaleway's minimum part")
        XCTAssertEqual(MultipartStream.partSize(forObjectSize: 100_000_000_000), 96 << 20)
        XCTAssertGreaterThanOrEqual(MultipartStream.partSize(forObjectSize: 1 << 40) * 1000, 1 << 40)
    }

    /// Run ids carry their UTC start time in the basic form; the reclaimer
    /// reads it back to age leftovers (made and parsed without ICU).
    func testRunIDTimesRoundTrip() {
        let when = Date(timeIntervalSince1970: 1_796_399_580.75)  // 2026-12-04T15:53:00.75Z
        let run = Naming.makeRunID(now: when)
        XCTAssertTrue(run.hasPrefix("20261204T155300Z-"), run)
        XCTAssertTrue(Naming.isRunID(run), run)
        XCTAssertEqual(LeftoverReclaimer.startTime(ofRunID: run), Date(timeIntervalSince1970: 1_796_399_580))
        XCTAssertEqual(Timestamp.basic(Date(timeIntervalSince1970: 0)), "19700101T000000Z")
        XCTAssertEqual(Timestamp.parseBasic("20240229T235959Z"), Date(timeIntervalSince1970: 1_709_251_199), "a leap day")
        for bad in ["20261304T155300Z", "20260230T120000Z", "20261204T245300Z", "20261204T156000Z", "2026120AT155300Z",
                    "20261204 155300Z", "20261204T155300", "20261204T155300Z0", ""] {
            XCTAssertNil(Timestamp.parseBasic(Substring(bad)), bad)
        }
    }

    func testVolumeFamilies() throws {
        XCTAssertEqual(try VolumeFamily.classify(volumeType: "l_ssd", volumeID: id), .lSSD)
        XCTAssertEqual(try VolumeFamily.classify(volumeType: "sbs_volume", volumeID: id), .sbs)
        XCTAssertNil(try VolumeFamily.classify(volumeType: "scratch", volumeID: id))
        XCTAssertThrowsError(try VolumeFamily.classify(volumeType: "b_ssd", volumeID: id)) { error in
            XCTAssertTrue("\(error)".contains("deprecated"))
        }
    }
}
