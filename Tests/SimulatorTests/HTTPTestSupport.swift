import Foundation
@testable import ScalewaySimulator

/// The outcome of one external command run by a test.
struct CommandResult {
    var status: Int32
    var stdout: Data
    var stderr: String
    var text: String { String(decoding: stdout, as: UTF8.self) }
}

enum HTTPTestSupport {
    /// Runs `executable` with `arguments` (searching PATH), waiting for it to end.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil,
                    stdin: Data? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        if let environment {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = stdin == nil ? FileHandle.nullDevice : input
        try process.run()
        if let stdin {
            try input.fileHandleForWriting.write(contentsOf: stdin)
            try input.fileHandleForWriting.close()
        }
        // Drain stderr concurrently so a chatty tool cannot block on a full pipe.
        let errorBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errorBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, stdout: output,
                             stderr: String(decoding: errorBox.data, as: UTF8.self))
    }

    /// Runs curl; appends `-w` so the last line of stdout is the HTTP status.
    static func curl(_ arguments: [String]) throws -> (status: Int, body: Data, stderr: String, exit: Int32) {
        let marker = "\n@@status=%{http_code}"
        let result = try run("curl", ["-sS", "-w", marker] + arguments)
        let text = result.stdout
        guard let range = text.range(of: Data("\n@@status=".utf8), options: .backwards) else {
            return (0, text, result.stderr, result.status)
        }
        let status = Int(String(decoding: text[range.upperBound...], as: UTF8.self)) ?? 0
        return (status, text[..<range.lowerBound], result.stderr, result.status)
    }

    /// A fresh temporary directory, removed by the caller.
    static func temporaryDirectory(_ label: String) throws -> String {
        let path = NSTemporaryDirectory() + "scw-sim-\(label)-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }
}

/// `@unchecked Sendable` invariant: written by one thread before a
/// DispatchGroup wait, read after it.
final class DataBox: @unchecked Sendable { var data = Data() }
