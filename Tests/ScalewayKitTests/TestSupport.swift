import Foundation
import Synchronization
@testable import ScalewayKit

/// Shared helpers of the ScalewayKit tests.
enum TestSupport {
    /// `Tests/ScalewayKitTests/Support`.
    static let supportDirectory: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Support").path
    }()

    static func script(_ name: String) -> String { "\(supportDirectory)/\(name)" }

    /// Runs a program to completion, feeding `input` on stdin; returns stdout.
    /// Throws when it exits non-zero (with its stderr).
    static func run(_ executable: String, _ arguments: [String], input: [UInt8] = []) throws -> [UInt8] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let writer = Thread { stdin.fileHandleForWriting.write(Data(input)); try? stdin.fileHandleForWriting.close() }
        writer.start()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestFailure("\(executable) exited \(process.terminationStatus): \(String(decoding: err, as: UTF8.self))")
        }
        return Array(out)
    }

    /// A free TCP port on 127.0.0.1 (bound then released; the server binds it right after).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw TestFailure("cannot bind a test port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Waits until something accepts TCP connections on `port` (bounded).
    static func waitForPort(_ port: Int, timeout: Duration = .seconds(20)) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            let result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            close(fd)
            if result == 0 { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("nothing listens on 127.0.0.1:\(port) after \(timeout)")
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A clock whose sleeps advance virtual time instantly and are recorded.
final class VirtualClock: ScalewayClock, @unchecked Sendable {
    // @unchecked Sendable invariant: `state` is a Mutex.
    private let state = Mutex<(now: Duration, sleeps: [Duration])>((.zero, []))

    func now() -> Duration { state.withLock { $0.now } }

    func sleep(for duration: Duration) async throws {
        try Task.checkCancellation()
        state.withLock { $0.now += duration; $0.sleeps.append(duration) }
    }

    var sleeps: [Duration] { state.withLock { $0.sleeps } }
}

/// A server process started by a test and killed when the test ends.
final class ChildProcess: @unchecked Sendable {
    // @unchecked Sendable invariant: `process` is set in init and only terminated afterwards.
    let process: Process
    let port: Int

    init(_ executable: String, _ arguments: [String], port: Int, environment: [String: String] = [:]) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        self.port = port
        try process.run()
    }

    /// Kills the process with SIGKILL (Foundation's `Process` may start
    /// children with SIGTERM blocked, so `terminate()` alone can hang the wait).
    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    deinit { stop() }
}
