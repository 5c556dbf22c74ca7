import Foundation
import JSONRPC
import Testing

/// Smoke tests of `refhost` driving the real `plakar-scaleway` binary with
/// its `memory-test` connector (enabled by PLAKAR_SCALEWAY_TEST_CONNECTOR=1).
@Suite("refhost against the memory-test connector")
struct RefhostTests {
    struct Outcome {
        var status: Int32
        var summary: JSONValue
        var stderr: String
    }

    /// A built executable of this package, next to the test bundle.
    static func executable(_ name: String) -> String {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = exe.deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/\(name)").path
    }

    static func refhost(_ arguments: [String]) throws -> Outcome {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable("refhost"))
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PLAKAR_SCALEWAY_TEST_CONNECTOR"] = "1"
        environment["PLAKAR_SCALEWAY_LOG"] = "warning"
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let errorHandle = err.fileHandleForReading
        let errorText = RefhostPipeText(errorHandle)
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last.map(String.init) ?? ""
        let summary = (try? JSONParser.parse(line)) ?? .null
        return Outcome(status: process.terminationStatus, summary: summary, stderr: errorText.wait())
    }

    static var plugin: String { executable("plakar-scaleway") }

    static func scratch() throws -> String {
        let path = NSTemporaryDirectory() + "refhost-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// The memory-test content: byte i of every file is the alphabet's i % 26.
    static func pattern(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(ascii: "a") + UInt8($0 % 26) }
    }

    @Test func backupReadsEveryFileIntoTheDirectory() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let out = directory + "/out"
        let result = try Self.refhost(["backup", "--plugin", Self.plugin, "--out", out, "--workers", "3",
                                       "--chunk", "65536", "--window", "3",
                                       "-o", "location=memory-test://smoke",
                                       "-o", "files=/a.txt:26,/dir/b.bin:1000003,/dir/empty:0,/c.bin:300000"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.summary["ok"]?.boolValue == true)
        #expect(result.summary["files"]?.int64Value == 4)
        #expect(result.summary["bytes"]?.int64Value == Int64(26 + 1_000_003 + 300_000))
        for (path, size) in [("/a.txt", 26), ("/dir/b.bin", 1_000_003), ("/dir/empty", 0), ("/c.bin", 300_000)] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: out + path)))
            #expect(bytes == Self.pattern(size), "content of \(path)")
        }
    }

    @Test func perFileErrorsMakeTheRunFail() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let result = try Self.refhost(["backup", "--plugin", Self.plugin, "--out", directory + "/out",
                                       "-o", "location=memory-test://smoke",
                                       "-o", "files=/good.bin:5000,/unreadable.bin:100",
                                       "-o", "error_path=/listed-bad", "-o", "fail_read=/unreadable.bin"])
        #expect(result.status == 1)
        #expect(result.summary["ok"]?.boolValue == false)
        let failedPaths = (result.summary["errors"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }.sorted()
        #expect(failedPaths == ["/listed-bad", "/unreadable.bin"])
        #expect(result.summary["files"]?.int64Value == 1)
        #expect(!FileManager.default.fileExists(atPath: directory + "/out/unreadable.bin"))
        #expect(result.stderr.contains("/unreadable.bin"))
    }

    @Test func restoreSendsFilesInWalkOrder() throws {
        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let input = directory + "/in"
        try FileManager.default.createDirectory(atPath: input + "/volumes/deep", withIntermediateDirectories: true)
        try Data("instance".utf8).write(to: URL(fileURLWithPath: input + "/instance.json"))
        try Data(Self.pattern(2_500_000)).write(to: URL(fileURLWithPath: input + "/volumes/0-disk.qcow2"))
        try Data().write(to: URL(fileURLWithPath: input + "/volumes/deep/empty"))
        let result = try Self.refhost(["restore", "--plugin", Self.plugin, "--from", input, "--chunk", "1000000",
                                       "-o", "location=memory-test://smoke"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        #expect(result.summary["files"]?.int64Value == 3)
        #expect(result.summary["bytes"]?.int64Value == Int64(8 + 2_500_000))
        // The exporter counts directories as records too.
        #expect(result.summary["plugin_summary"]?["files"]?.int64Value == 5)
        let order = result.stderr.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("refhost: restored ") else { return nil }
            return line.split(separator: " ").dropFirst(2).first.map(String.init)
        }
        #expect(order == ["/instance.json", "/volumes/0-disk.qcow2", "/volumes/deep/empty"])

        let failing = try Self.refhost(["restore", "--plugin", Self.plugin, "--from", input, "--chunk", "100000",
                                        "-o", "location=memory-test://smoke", "-o", "fail_write=/volumes/0-disk.qcow2"])
        #expect(failing.status == 1)
        let failedPaths = (failing.summary["errors"]?.arrayValue ?? []).compactMap { $0["path"]?.stringValue }
        #expect(failedPaths == ["/volumes/0-disk.qcow2"])
        #expect(failing.summary["files"]?.int64Value == 2)
    }

    @Test func fatalAndUsageErrors() throws {
        let usage = try Self.refhost(["backup", "--out", "/tmp/x"])
        #expect(usage.status == 2)
        #expect(usage.stderr.contains("--plugin"))

        let directory = try Self.scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let refused = try Self.refhost(["backup", "--plugin", Self.plugin, "--out", directory,
                                        "-o", "location=memory-test://smoke", "-o", "fail_open=auth"])
        #expect(refused.status == 1)
        #expect(refused.summary["fatal"]?.stringValue?.contains("auth") == true)

        let missing = try Self.refhost(["backup", "--plugin", directory + "/no-such-plugin", "--out", directory,
                                        "--protocol", "memory-test"])
        #expect(missing.status == 1)
        #expect(missing.summary["ok"]?.boolValue == false)
    }
}

/// Reads a pipe to its end on a dedicated thread.
final class RefhostPipeText: @unchecked Sendable {
    // Invariant: `text` is written by the reading thread before `done` is
    // signalled and read only after waiting on it.
    private var text = ""
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
            done.signal()
        }
    }

    func wait() -> String {
        done.wait()
        return text
    }
}
