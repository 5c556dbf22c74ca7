import Foundation
import PluginProtocol
import ScalewayKit
import XCTest
@testable import ScalewayConnector

/// The timeout keys (connect_timeout, stall_timeout, snapshot_timeout,
/// export_timeout, import_timeout): parsing, precise errors, how they reach
/// the transport and the waits, and the errors that name them; and the
/// clock-skew error the user sees.
final class TimeoutConfigTests: XCTestCase {
    func parse(_ extra: [String: String], role: ConnectorConfig.Role = .importer) throws -> ConnectorConfig {
        var c = ConfigTests.base
        if role == .exporter { c["location"] = "scaleway-instance://" }
        c.merge(extra) { $1 }
        return try ConnectorConfig.parse(c, role: role)
    }

    func configError(_ extra: [String: String], role: ConnectorConfig.Role = .importer,
                     file: StaticString = #filePath, line: UInt = #line) -> PluginError? {
        do {
            _ = try parse(extra, role: role)
            XCTFail("expected a config error for \(extra)", file: file, line: line)
            return nil
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .config, file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected \(error)", file: file, line: line)
            return nil
        }
    }

    func testDefaultsFollowRealTools() throws {
        let backup = try parse([:])
        XCTAssertEqual(backup.connectTimeout, .seconds(30))
        XCTAssertEqual(backup.stallTimeout, .seconds(60))
        XCTAssertEqual(backup.snapshotTimeout, .seconds(3600))
        XCTAssertEqual(backup.exportTimeout, .seconds(12 * 3600))
        XCTAssertEqual(try parse([:], role: .exporter).importTimeout, .seconds(12 * 3600))
    }

    func testDurationsAreParsedGoStyleOrAsSeconds() throws {
        let c = try parse(["connect_timeout": "90", "stall_timeout": "2m", "snapshot_timeout": "1h30m", "export_timeout": "36h"])
        XCTAssertEqual(c.connectTimeout, .seconds(90))
        XCTAssertEqual(c.stallTimeout, .seconds(120))
        XCTAssertEqual(c.snapshotTimeout, .seconds(5400))
        XCTAssertEqual(c.exportTimeout, .seconds(36 * 3600))
        XCTAssertEqual(try parse(["import_timeout": "2h0m5s"], role: .exporter).importTimeout, .seconds(7205))
        XCTAssertEqual(ConfigValidation.formatDuration(.seconds(5400)), "1h30m")
        XCTAssertEqual(ConfigValidation.formatDuration(.seconds(45)), "45s")
    }

    func testMalformedAndOutOfRangeValuesGetPreciseErrors() {
        for bad in ["abc", "1.5s", "10x", "m", "30s1h", "1h1h", "-5", "5 s", "99999999999999999999s"] {
            let error = configError(["stall_timeout": bad])
            XCTAssertEqual(error?.field, "stall_timeout", bad)
            XCTAssertEqual(error?.message, "stall_timeout is malformed: expected a duration such as 60s (units s, m, h; "
                           + "a bare number is seconds), from 1s to 1h, got \"\(bad)\"")
        }
        let zero = configError(["connect_timeout": "0s"])
        XCTAssertEqual(zero?.field, "connect_timeout")
        XCTAssertTrue(zero?.message.hasPrefix("connect_timeout is out of range: expected a duration such as 30s") == true, zero?.message ?? "")
        XCTAssertTrue(zero?.message.contains("from 1s to 10m") == true)
        XCTAssertTrue(zero?.hint?.contains("TCP+TLS connection") == true)
        XCTAssertEqual(configError(["export_timeout": "169h"])?.field, "export_timeout")
        // Role-specific keys: a backup wait is not a restore option and vice versa.
        XCTAssertTrue(configError(["import_timeout": "1h"])?.message.contains("restore option") == true)
        XCTAssertTrue(configError(["export_timeout": "1h"], role: .exporter)?.message.contains("backup option") == true)
        XCTAssertTrue(configError(["snapshot_timeout": "1h"], role: .exporter)?.message.contains("backup option") == true)
    }

    func testKeysReachTheTransportAndTheWaits() throws {
        let config = try parse(["connect_timeout": "7s", "stall_timeout": "3s", "snapshot_timeout": "20m", "export_timeout": "5h",
                                "api_url": "http://127.0.0.1:1", "s3_endpoint": "http://127.0.0.1:2"])
        let cloud = try ScalewayKitCloud(config: config)
        XCTAssertEqual(cloud.session.transport.configuration.connectTimeout, .seconds(7))
        XCTAssertEqual(cloud.session.transport.configuration.lowSpeedTime, .seconds(3))
        let timeouts = Timeouts(config: config)
        XCTAssertEqual(timeouts.snapshot, .seconds(1200))
        XCTAssertEqual(timeouts.export, .seconds(5 * 3600))
        XCTAssertEqual(Poller.standard.naming(timeouts).knobs, [.snapshot: .seconds(1200), .export: .seconds(5 * 3600)])
        // A restore names only its own key (its 12 h import limit is no export_timeout).
        let restore = Timeouts(config: try parse([:], role: .exporter))
        XCTAssertEqual(restore.keys, [.importImage: .seconds(12 * 3600)])
        XCTAssertEqual(Poller.standard.naming(restore).timeoutError("the import of /volumes/0.qcow2", timeout: restore.importImage).message,
                       "gave up waiting for the import of /volumes/0.qcow2 after 12h (the limit set by import_timeout)")
    }

    func testAWaitThatRunsOutNamesTheOperationAndTheKeyToRaise() async throws {
        let timeouts = Timeouts(config: try parse(["export_timeout": "1s"]))
        let poller = Poller(initialInterval: .milliseconds(50), maxInterval: .milliseconds(200)).naming(timeouts)
        let started = ContinuousClock.now
        do {
            _ = try await poller.wait(timeout: timeouts.export, describe: "the export of SBS volume v-1") { "exporting" }
                until: { (_: String) -> Bool? in nil }
            XCTFail("the wait did not time out")
        } catch let error as PluginError {
            XCTAssertEqual(error.kind, .timeout)
            XCTAssertEqual(error.message, "gave up waiting for the export of SBS volume v-1 after 1s (the limit set by export_timeout)")
            XCTAssertTrue(error.hint?.contains("raise export_timeout (now 1s), e.g. export_timeout=2s") == true, error.hint ?? "")
        }
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - started, .seconds(1))
        // A limit no key sets says so by naming none.
        let fixed = poller.timeoutError("instance i-1 to stop", timeout: .seconds(1200))
        XCTAssertEqual(fixed.message, "gave up waiting for instance i-1 to stop after 20m")
    }

    func testClockSkewIsReportedAsSuchAndAPermissionProblemStaysOne() {
        var skew = S3Error(code: "RequestTimeTooSkewed", message: "The difference between the request time and the current time is too large.",
                           httpStatus: 403, bucket: "backups", operation: "GetBucketLocation backups")
        skew.serverTime = Date(timeIntervalSince1970: 1_800_000_000)
        skew.requestTime = skew.serverTime!.addingTimeInterval(47 * 60)
        let mapped = CloudFailure.map(ScalewayKitErrors.map(skew), action: "read bucket backups", permissionSet: PermissionSet.bucketsRead)
        XCTAssertEqual(mapped.kind, .auth)
        XCTAssertTrue(mapped.message.hasPrefix("the local clock is 47 min ahead of Object Storage (server time 2027-01-15T08:00:00Z"),
                      mapped.message)
        XCTAssertTrue(mapped.message.hasSuffix("cannot read bucket backups"), mapped.message)
        XCTAssertFalse(mapped.message.contains("lacks"))
        XCTAssertTrue(mapped.hint?.contains("NTP") == true)

        let denied = S3Error(code: "AccessDenied", message: "Access Denied", httpStatus: 403, bucket: "backups")
        let permission = CloudFailure.map(ScalewayKitErrors.map(denied), action: "read bucket backups", permissionSet: PermissionSet.bucketsRead)
        XCTAssertEqual(permission.kind, .permission)
        XCTAssertEqual(permission.message, "the key lacks ObjectStorageBucketsRead: cannot read bucket backups")
    }
}
