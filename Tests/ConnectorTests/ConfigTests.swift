import PluginProtocol
import XCTest
@testable import ScalewayConnector

final class ConfigTests: XCTestCase {
    static let secret = "0f0e0d0c-0b0a-4908-8706-050403020100"
    static let base: [String: String] = [
        "location": "scaleway-instance://web-01",
        "access_key": "SCWABCDEFGHIJKLMNOPQ",
        "secret_key": secret,
        "bucket": "backups",
    ]

    func parseError(_ config: [String: String], role: ConnectorConfig.Role = .importer,
                    file: StaticString = #filePath, line: UInt = #line) -> PluginError? {
        do {
            _ = try ConnectorConfig.parse(config, role: role)
            XCTFail("expected a config error", file: file, line: line)
            return nil
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .config, file: file, line: line)
            XCTAssertFalse("\(error) \(error.cause ?? "")".contains(Self.secret), "secret leaked", file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return nil
        }
    }

    func testDefaults() throws {
        let config = try ConnectorConfig.parse(Self.base, role: .importer)
        XCTAssertEqual(config.target, .name("web-01"))
        XCTAssertEqual(config.prefix, "plakar-scaleway/")
        XCTAssertEqual(config.consistency, .crash)
        XCTAssertFalse(config.keepStaging)
        XCTAssertNil(config.zone)
        XCTAssertEqual(config.apiURL, "https://api.scaleway.com")
        XCTAssertEqual(config.s3Endpoint(region: "nl-ams"), "https://s3.nl-ams.scw.cloud")
        var templated = Self.base
        templated["s3_endpoint"] = "https://s3.{region}.example.net"
        XCTAssertEqual(try ConnectorConfig.parse(templated, role: .importer).s3Endpoint(region: "pl-waw"),
                       "https://s3.pl-waw.example.net")
        XCTAssertEqual("\(config.secretKey)", "<redacted>")
    }

    func testEveryKeyParsed() throws {
        var c = Self.base
        c["location"] = "scaleway-instance://"
        c["hostname"] = "1E3B0A2C-1111-4222-8333-944455556666"
        c["zone"] = "nl-ams-2"
        c["project_id"] = "11111111-2222-3333-4444-555555555555"
        c["environment"] = "production"
        c["data_class"] = "pii"
        c["api_url"] = "http://127.0.0.1:8080/"
        c["s3_endpoint"] = "http://127.0.0.1:8081"
        c["prefix"] = "backups/plakar"
        c["consistency"] = "stop"
        c["keep_staging"] = "true"
        let config = try ConnectorConfig.parse(c, role: .importer)
        XCTAssertEqual(config.target, .id("1e3b0a2c-1111-4222-8333-944455556666"))
        XCTAssertEqual(config.zone?.region, "nl-ams")
        XCTAssertEqual(config.apiURL, "http://127.0.0.1:8080")
        XCTAssertEqual(config.prefix, "backups/plakar/")
        XCTAssertEqual(config.consistency, .stop)
        XCTAssertTrue(config.keepStaging)
        XCTAssertEqual(config.environment, "production")
    }

    func testMissingKeysAreNamed() {
        for key in ["access_key", "secret_key", "bucket"] {
            var c = Self.base
            c[key] = nil
            let error = parseError(c)
            XCTAssertEqual(error?.field, key)
            XCTAssertTrue(error?.message.contains("missing required key \(key)") ?? false, "\(String(describing: error))")
        }
        var c = Self.base
        c["location"] = "scaleway-instance://"
        XCTAssertEqual(parseError(c)?.field, "location")
    }

    func testMalformedValuesSayWhatIsExpected() {
        let cases: [(String, String, String)] = [
            ("zone", "paris", "fr-par-1"),
            ("hostname", "web-01", "UUID"),
            ("project_id", "nope", "UUID"),
            ("bucket", "Bad_Bucket", "bucket name"),
            ("access_key", "AKIA123", "SCW"),
            ("consistency", "fast", "crash, stop"),
            ("keep_staging", "maybe", "true or false"),
            ("api_url", "ftp://x", "http"),
            ("prefix", "/abs", "no leading /"),
            ("ca_file", "/nonexistent/ca.pem", "readable PEM"),
            ("location", "s3://bucket", "scaleway-instance://"),
        ]
        for (key, value, expected) in cases {
            var c = Self.base
            c[key] = value
            let error = parseError(c)
            XCTAssertEqual(error?.field, key, "\(key)")
            XCTAssertTrue(error?.message.contains(expected) ?? false, "\(key): \(String(describing: error?.message))")
        }
    }

    func testSecretNeverEchoed() {
        var c = Self.base
        c["secret_key"] = "my-very-secret-value"
        let error = parseError(c)
        XCTAssertEqual(error?.field, "secret_key")
        XCTAssertFalse(error?.message.contains("my-very-secret-value") ?? true)
    }

    func testUnknownKeysAreRejectedWithTheKnownList() {
        var c = Self.base
        c["keep_stagin"] = "true"
        let error = parseError(c)
        XCTAssertEqual(error?.field, "keep_stagin")
        XCTAssertTrue(error?.hint?.contains("keep_staging") ?? false)
        var r = Self.base
        r["force"] = "true"
        XCTAssertTrue(parseError(r)?.message.contains("restore option") ?? false)
        var e = Self.base
        e["consistency"] = "stop"
        XCTAssertTrue(parseError(e, role: .exporter)?.message.contains("backup option") ?? false)
    }

    func testExporterOptions() throws {
        var c = Self.base
        c["name"] = "web-01-copy"
        c["commercial_type"] = "PRO2-XXS"
        c["start_on_restore"] = "true"
        c["restore_mode"] = "in_place"
        c["force"] = "true"
        c["perf_iops"] = "15000"
        c["keep_on_failure"] = "1"
        let config = try ConnectorConfig.parse(c, role: .exporter)
        XCTAssertEqual(config.restoreMode, .inPlace)
        XCTAssertTrue(config.force && config.startOnRestore && config.keepOnFailure)
        XCTAssertEqual(config.perfIOPS, 15000)
        XCTAssertEqual(config.commercialType, "PRO2-XXS")

        var bad = Self.base
        bad["perf_iops"] = "7000"
        XCTAssertEqual(parseError(bad, role: .exporter)?.field, "perf_iops")
        var noTarget = Self.base
        noTarget["location"] = "scaleway-instance://"
        noTarget["restore_mode"] = "in_place"
        XCTAssertEqual(parseError(noTarget, role: .exporter)?.field, "restore_mode")
        var forceNew = Self.base
        forceNew["force"] = "true"
        XCTAssertEqual(parseError(forceNew, role: .exporter)?.field, "force")
        // A new-instance restore needs no target.
        var newMode = Self.base
        newMode["location"] = "scaleway-instance://"
        XCTAssertNil(try ConnectorConfig.parse(newMode, role: .exporter).target)
    }

    func testHostnameAndLocationMustAgree() {
        var c = Self.base
        c["location"] = "scaleway-instance://1e3b0a2c-1111-4222-8333-944455556666"
        c["hostname"] = "2e3b0a2c-1111-4222-8333-944455556666"
        XCTAssertEqual(parseError(c)?.field, "hostname")
    }

    func testZones() {
        XCTAssertEqual(Zone("fr-par-2")?.region, "fr-par")
        XCTAssertNil(Zone("fr-par-9"))
        XCTAssertEqual(Zone.searchOrder.first?.name, "fr-par-1")
        XCTAssertEqual(Zone.zones(inRegion: "pl-waw").count, 3)
    }
}
