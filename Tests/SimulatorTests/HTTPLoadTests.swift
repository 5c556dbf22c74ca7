import Crypto
import Foundation
import Testing
@testable import ScalewaySimulator

@Suite("HTTP server under load", .serialized)
struct HTTPLoadTests {
    static var heavy: Bool { ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_HEAVY"] == "1" }

    static func residentBytes() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (Int(line.split(separator: " ")[1]) ?? 0) * 1024
        }
        return 0
    }

    @Test("uploads stream to a file; 32 concurrent GETs are served with flat memory")
    func concurrency() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("load")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let size = 32 << 20
        let blob = dir + "/blob"
        let bytes = S3TestServer.bytes(size, seed: 41)
        try bytes.write(to: URL(fileURLWithPath: blob))
        let server = try HTTPServer(configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: dir + "/up"),
                                    handler: EchoHandler(files: ["/blob": blob]))
        defer { server.stop() }

        // Upload: the handler sees a file, with the exact bytes.
        let upload = try HTTPTestSupport.curl(["-T", blob, "\(server.baseURL)/upload"])
        #expect(upload.status == 200)
        #expect(String(decoding: upload.body, as: UTF8.self)
                == "PUT|/upload|||file|\(size)|\(Hex.encode(Digest.sha256(bytes)))")
        #expect((try FileManager.default.contentsOfDirectory(atPath: dir + "/up")).isEmpty)

        let before = Self.residentBytes()
        let count = 32
        var arguments = ["-sS", "--parallel", "--parallel-max", String(count), "-w", "%{http_code} %{size_download}\n"]
        for _ in 0..<count { arguments += ["-o", "/dev/null", "\(server.baseURL)/blob"] }
        let started = Date()
        let result = try HTTPTestSupport.run("curl", arguments)
        let elapsed = Date().timeIntervalSince(started)
        let lines = result.text.split(separator: "\n")
        #expect(lines.count == count)
        #expect(lines.allSatisfy { $0 == "200 \(size)" })
        let growth = Self.residentBytes() - before
        print("32 concurrent GETs of \(size >> 20) MiB: \(String(format: "%.2f", Double(size * count) / elapsed / 1e9)) GB/s aggregate, RSS growth \(growth >> 20) MiB")
        // 1 GiB went out: a server buffering bodies would grow by about that
        // much. The bound leaves room for other suites running in this process.
        #expect(growth < (size * count) / 4)
    }

    /// A loopback ceiling: Python answering with one bare `sendfile(2)` of
    /// the whole file, no HTTP library at all (first stdout line: the port).
    static let sendfileBaseline = """
        import os, socket, sys
        s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(4)
        print(s.getsockname()[1], flush=True)
        path = sys.argv[1]; size = os.path.getsize(path)
        for _ in range(int(sys.argv[2])):
            c, _ = s.accept(); c.recv(65536)
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n" % size)
            with open(path, "rb") as f: c.sendfile(f)
            c.close()
        """

    static func curlSpeed(_ url: String, expecting size: Int64) throws -> Double {
        let r = try HTTPTestSupport.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{speed_download}", url])
        let fields = r.text.split(separator: " ")
        guard fields.count == 3, fields[0] == "200", Int64(fields[1]) == size else { return 0 }
        return Double(fields[2]) ?? 0
    }

    @Test("a multi-GiB GET with curl reaches 1.5 GB/s, or the machine's loopback sendfile ceiling (PLAKAR_SCALEWAY_HEAVY=1)",
          .enabled(if: heavy))
    func throughput() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("throughput")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let blob = dir + "/blob"
        let size: Int64 = 2 << 30
        // A real (non-sparse) file, so the page cache serves actual data pages.
        let chunk = S3TestServer.bytes(64 << 20, seed: 51)
        _ = FileManager.default.createFile(atPath: blob, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: blob))
        for _ in 0..<(size / Int64(chunk.count)) { try handle.write(contentsOf: chunk) }
        try handle.close()
        let server = try HTTPServer(configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: dir + "/up"),
                                    handler: EchoHandler(files: ["/blob": blob]))
        defer { server.stop() }
        _ = try HTTPTestSupport.run("sh", ["-c", "cat \"$0\" > /dev/null", blob])  // warm the page cache
        let before = Self.residentBytes()
        let attempts = 3

        // The same transfer from a bare sendfile loop, interleaved with the
        // server's, to tell a slow server from a busy machine.
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        python.arguments = ["python3", "-c", Self.sendfileBaseline, blob, String(attempts)]
        let portPipe = Pipe()
        python.standardOutput = portPipe
        try python.run()
        var portText = Data()
        while !portText.contains(UInt8(ascii: "\n")) {
            let byte = portPipe.fileHandleForReading.readData(ofLength: 1)
            if byte.isEmpty { break }
            portText.append(byte)
        }
        let port = Int(String(decoding: portText, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        var best = 0.0
        var baseline = 0.0
        // Adjacent transfers see the same machine load: compare them pairwise.
        var bestRatio = 0.0
        for _ in 0..<attempts {
            let served = try Self.curlSpeed("\(server.baseURL)/blob", expecting: size)
            let bare = try Self.curlSpeed("http://127.0.0.1:\(port)/", expecting: size)
            best = max(best, served)
            baseline = max(baseline, bare)
            if bare > 0 { bestRatio = max(bestRatio, served / bare) }
        }
        python.waitUntilExit()
        let growth = Self.residentBytes() - before

        print("curl GET of a \(size >> 30) GiB file: \(String(format: "%.2f", best / 1e9)) GB/s"
              + " (bare sendfile on this machine now: \(String(format: "%.2f", baseline / 1e9)) GB/s,"
              + " best pairwise ratio \(String(format: "%.2f", bestRatio))), RSS growth \(growth >> 20) MiB")
        #expect(best >= 1.5e9 || bestRatio >= 0.75)
        #expect(growth < 64 << 20)
    }
}
