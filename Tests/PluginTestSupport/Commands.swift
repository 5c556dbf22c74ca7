import Foundation

/// Runs a command found on PATH; returns its exit status and its stdout
/// (stderr is discarded).
@discardableResult
public func runCommand(_ arguments: [String]) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// SHA-256 of a file (`sha256sum`: the debug build's own loop is too slow for 1 GB disks).
public func sha256(file path: String) throws -> String {
    let (status, out) = try runCommand(["sha256sum", path])
    guard status == 0 else { throw PluginProcess.RPCError(code: Int(status), message: "sha256sum \(path) failed", data: [:]) }
    return String(out.prefix(64))
}
