import Foundation
import PluginTestSupport
import ScalewaySimulator
import Testing

/// The secret key is a unique canary; a full backup and restore at trace
/// level must not let it out anywhere the plugin writes.
@Suite(.serialized) struct CanaryTests {
    /// A UUID (the connector requires one) nobody else would produce.
    let canary = "c4a7a2e5-0bad-4cab-9e55-" + String(UUID().uuidString.replacingOccurrences(of: "-", with: "").suffix(12)).lowercased()
    let fixture: SimulatorFixture

    init() throws {
        var seed = Seed.tiny
        seed.keys[0].secretKey = canary
        fixture = try SimulatorFixture(seed: seed)
        #expect(fixture.sim.endpoints.keys[0].secretKey == canary)
    }

    /// The forms a leak could take: as is, upper-cased, without dashes, its
    /// random tail alone, and base64 (e.g. inside a JSON-RPC data field).
    var needles: [Data] {
        let forms = [canary, canary.uppercased(), canary.replacingOccurrences(of: "-", with: ""), String(canary.suffix(12)),
                     Data(canary.utf8).base64EncodedString()]
        return forms.map { Data($0.utf8) }
    }

    func assertNoCanary(in data: Data, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for needle in needles where data.range(of: needle) != nil {
            Issue.record("the secret key (canary, as \(String(decoding: needle, as: UTF8.self))) appears in \(what)",
                         sourceLocation: sourceLocation)
        }
    }

    /// The plugin's log. (The JSON-RPC frame trace used to print the open
    /// request's secret_key; main's FrameRedactor fixed it, found here.)
    func assertNoCanaryInLog(_ log: Data, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        assertNoCanary(in: log, what, sourceLocation: sourceLocation)
    }

    func assertNoCanaryInStagedFiles(_ moment: String, sourceLocation: SourceLocation = #_sourceLocation) -> Int {
        let staged = fixture.stagedFiles
        for path in staged {
            assertNoCanary(in: Data(path.utf8), "a staged file name \(path) (\(moment))", sourceLocation: sourceLocation)
            if let content = FileManager.default.contents(atPath: path) {
                assertNoCanary(in: content, "staged file \(path) (\(moment))", sourceLocation: sourceLocation)
            }
        }
        return staged.count
    }

    /// Every Authorization / X-Auth-Token header in the trace log is redacted,
    /// and the log does record headers (so the check is not vacuous).
    func assertHeadersRedacted(_ log: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let pattern = try! NSRegularExpression(pattern: "(?i)(authorization|x-auth-token)\\s*[:=]\\s*([^,\\n]*)")
        let matches = pattern.matches(in: log, range: NSRange(log.startIndex..., in: log))
        var names = Set<String>()
        for m in matches {
            let name = String(log[Range(m.range(at: 1), in: log)!]).lowercased()
            let value = String(log[Range(m.range(at: 2), in: log)!])
            names.insert(name)
            #expect(value.hasPrefix("<redacted>"), "\(name) not redacted in the trace log: \(value.prefix(80))", sourceLocation: sourceLocation)
        }
        #expect(names.contains("x-auth-token"), "the trace log records no X-Auth-Token header at all", sourceLocation: sourceLocation)
        #expect(names.contains("authorization"), "the trace log records no Authorization header at all", sourceLocation: sourceLocation)
    }

    @Test func canarySecretNeverLeavesDuringBackupAndRestore() async throws {
        defer { fixture.stop() }
        let config = fixture.config()
        // Backup, at trace level; staged objects are scanned while they exist.
        let backup = try PluginProcess(logLevel: "trace", recordsStdout: true)
        let stagedDuringBackup = Counter()
        let outcome = try await SessionDriver.backup(backup, config) {
            stagedDuringBackup.value = assertNoCanaryInStagedFiles("during backup")
        }
        backup.finish()
        #expect(outcome.errors.isEmpty, "\(outcome.errors)")
        #expect(outcome.closeResult != nil)
        #expect(stagedDuringBackup.value > 0, "nothing was staged: the scan proved nothing")
        #expect(outcome.files.filter { $0.path.hasSuffix(".qcow2") }.count >= 3)
        for file in outcome.files {
            assertNoCanary(in: Data(file.path.utf8), "the tree path \(file.path)")
            let info = try JSONSerialization.data(withJSONObject: file.info)
            assertNoCanary(in: info, "the fileinfo of \(file.path)")
            assertNoCanary(in: file.bytes, "the content of \(file.path)")
        }
        assertNoCanary(in: backup.rawStdout, "the backup's stdout (results, errors, notifications)")
        let backupLog = backup.stderr
        #expect(backupLog.count > 1000, "the trace log is nearly empty")
        #expect(String(decoding: backupLog, as: UTF8.self).contains("[rpc] ->"), "the trace log shows no protocol frame")
        assertNoCanaryInLog(backupLog, "the backup's stderr (trace log)")
        assertHeadersRedacted(String(decoding: backupLog, as: UTF8.self))

        // Restore of the same tree as a new instance.
        let restore = try PluginProcess(logLevel: "trace", recordsStdout: true)
        let stagedDuringRestore = Counter()
        let restored = try await SessionDriver.restore(restore, outcome.files, config: fixture.config(location: "scaleway-instance://"),
                                                       beforeClose: {
            stagedDuringRestore.value = assertNoCanaryInStagedFiles("during restore")
        })
        restore.finish()
        #expect(restored.errors.isEmpty, "\(restored.errors)")
        #expect(restored.closeResult != nil)
        _ = assertNoCanaryInStagedFiles("after restore")
        assertNoCanary(in: restore.rawStdout, "the restore's stdout (results, errors, notifications)")
        let restoreLog = restore.stderr
        assertNoCanaryInLog(restoreLog, "the restore's stderr (trace log)")
        assertHeadersRedacted(String(decoding: restoreLog, as: UTF8.self))
        let restoredServer = try await fixture.server(named: "web-01-restored")
        #expect(restoredServer != nil, "the restore created no server")
        // The simulator keeps resources' tags and names: none may carry the secret.
        let state = try JSONSerialization.data(withJSONObject: try await fixture.state())
        assertNoCanary(in: state, "the simulator's resource state (names, tags)")
    }

    @Test func canarySecretNeverLeavesWhenOpenFails() async throws {
        defer { fixture.stop() }
        let bad: [(String, [String: String])] = [
            ("unknown bucket", fixture.config(extra: ["bucket": "no-such-bucket"])),
            ("malformed zone", fixture.config(extra: ["zone": "mars-1"])),
            ("unknown instance", fixture.config(location: "scaleway-instance://no-such-server")),
            ("unknown option", fixture.config(extra: ["keep_stagin": "true"])),
            ("wrong access key", fixture.config(extra: ["access_key": "SCWAAAAAAAAAAAAAAAAA"])),
            ("malformed secret (canary inside)", fixture.config(extra: ["secret_key": "x" + canary + "x"])),
            ("unreachable API", fixture.config(extra: ["api_url": "http://127.0.0.1:9"])),
        ]
        for (what, config) in bad {
            for mode in ["importer", "exporter"] {
                let plugin = try PluginProcess(logLevel: "trace", recordsStdout: true)
                do {
                    _ = try await plugin.call("open", SessionDriver.openParams(config, mode: mode))
                    if mode == "importer" { _ = try await plugin.call("list") }
                    // An exporter's target may legitimately be absent (a new
                    // instance is created); every other case must fail.
                    if !(mode == "exporter" && what == "unknown instance") {
                        Issue.record("\(what) (\(mode)): open and list succeeded")
                    }
                } catch let error as PluginProcess.RPCError {
                    #expect(!error.message.isEmpty, "\(what) (\(mode)): empty error message")
                }
                plugin.finish()
                assertNoCanary(in: plugin.rawStdout, "stdout when open fails (\(what), \(mode))")
                assertNoCanaryInLog(plugin.stderr, "stderr when open fails (\(what), \(mode))")
            }
        }
    }
}

/// A value set from a `@Sendable` hook. `@unchecked Sendable`: the hook
/// runs before the reader looks, on the same task.
final class Counter: @unchecked Sendable { var value = 0 }
