import Foundation
import Testing
@testable import QCOW2

/// A scratch directory removed when the value goes away.
final class ScratchDirectory {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "qcow2-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

struct CommandResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

/// Runs a command to completion and captures its output.
@discardableResult
func run(_ arguments: [String]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain both pipes before waiting so a chatty command cannot block.
    let errData = PipeDrain(err.fileHandleForReading)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.wait(), as: UTF8.self))
}

/// Reads a pipe to its end on a dedicated thread.
final class PipeDrain: @unchecked Sendable {
    // Invariant: `data` is written by the reading thread before `done` is
    // signalled and only read after waiting on it.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

/// Runs `qemu-img` and requires success.
@discardableResult
func qemuImg(_ arguments: String...) throws -> CommandResult {
    var result = try run(["qemu-img"] + arguments)
    // Creating a LUKS image starts with a PBKDF benchmark that QEMU gives up
    // on when the machine is too busy to time it ("Unable to get accurate
    // CPU usage"), as on the shared 2-core CI machine: that, and only that,
    // is retried.
    var attempts = 1
    while result.status != 0, attempts < 5, result.stderr.contains("Unable to get accurate CPU usage") {
        result = try run(["qemu-img"] + arguments)
        attempts += 1
    }
    #expect(result.status == 0, "qemu-img \(arguments.joined(separator: " ")) failed: \(result.stderr) \(result.stdout)")
    return result
}

/// Deterministic pseudo-random bytes (xorshift), so failures reproduce.
struct DeterministicBytes {
    var state: UInt64

    init(seed: UInt64) { state = seed | 1 }

    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }

    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var index = 0
        while index + 8 <= buffer.count {
            buffer.storeBytes(of: next(), toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < buffer.count {
            buffer[index] = UInt8(truncatingIfNeeded: next())
            index += 1
        }
    }

    mutating func bytes(_ count: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        out.withUnsafeMutableBytes { fill($0) }
        return out
    }
}

/// Writes `pieces` (offset, bytes) into a sparse file of `size` bytes.
func makeSparseFile(_ path: String, size: UInt64, pieces: [(UInt64, [UInt8])]) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    #expect(fd >= 0)
    defer { close(fd) }
    for (offset, bytes) in pieces {
        let n = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        #expect(n == bytes.count)
    }
    #expect(ftruncate(fd, off_t(size)) == 0)
}

func filesEqual(_ a: String, _ b: String) throws -> Bool {
    try run(["cmp", "-s", a, b]).status == 0
}

func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    try Data(bytes).write(to: URL(fileURLWithPath: path))
}

var heavyTestsEnabled: Bool { ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_HEAVY"] == "1" }

/// Byte comparisons through memcmp: element-wise loops are slow in debug builds.
func sameBytes(_ a: ArraySlice<UInt8>, _ b: ArraySlice<UInt8>) -> Bool {
    guard a.count == b.count else { return false }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in a.isEmpty || memcmp(x.baseAddress!, y.baseAddress!, a.count) == 0 } }
}

func allZero(_ a: ArraySlice<UInt8>) -> Bool {
    sameBytes(a, ArraySlice(repeating: 0, count: a.count))
}
