import Crypto
import Foundation
import Testing
@testable import ScalewaySimulator

@Suite("HTTP server faults", .serialized)
final class HTTPFaultTests {
    let directory: String
    let file: String
    let fileBytes = S3TestServer.bytes(1 << 20, seed: 21)
    let faults = FaultInjector()
    let server: HTTPServer

    init() throws {
        directory = try HTTPTestSupport.temporaryDirectory("faults")
        file = directory + "/blob"
        try fileBytes.write(to: URL(fileURLWithPath: file))
        server = try HTTPServer(configuration: HTTPServerConfiguration(service: "api", uploadDirectory: directory + "/up"),
                                handler: EchoHandler(files: ["/blob": file]), faults: faults)
    }

    deinit {
        server.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    @Test("rate_limit on the API: 429, empty body, X-Envoy-Ratelimited, for `count` requests")
    func rateLimit() throws {
        faults.install(FaultRule(service: "api", pathContains: "/servers", action: .rateLimit, count: 2))
        let url = "\(server.baseURL)/instance/v1/zones/fr-par-1/servers"
        for _ in 0..<2 {
            let r = try HTTPTestSupport.run("curl", ["-sS", "-D", "-", "-o", "/dev/null", url])
            #expect(r.text.hasPrefix("HTTP/1.1 429"))
            #expect(r.text.lowercased().contains("x-envoy-ratelimited: true"))
            #expect(r.text.lowercased().contains("content-length: 0"))
            #expect(!r.text.lowercased().contains("retry-after"))
        }
        #expect(try HTTPTestSupport.curl([url]).status == 200)
        #expect(try HTTPTestSupport.curl(["\(server.baseURL)/other"]).status == 200)
    }

    @Test("status faults answer 500/503 bursts with the API's JSON error")
    func statusBurst() throws {
        faults.install(FaultRule(service: "any", method: "GET", pathContains: "/burst", action: .status, status: 503,
                                 skip: 1, count: 2))
        let url = "\(server.baseURL)/burst"
        let statuses = try (0..<4).map { _ in try HTTPTestSupport.curl([url]) }
        #expect(statuses.map(\.status) == [200, 503, 503, 200])
        #expect(String(decoding: statuses[1].body, as: UTF8.self).contains("\"type\":\"service_unavailable\""))
        faults.install(FaultRule(service: "api", pathContains: "/err", action: .status, status: 500))
        #expect(try HTTPTestSupport.curl(["\(server.baseURL)/err"]).status == 500)
    }

    @Test("reset cuts the connection after afterBytes of the body")
    func reset() throws {
        faults.install(FaultRule(pathContains: "/blob", action: .reset, afterBytes: 100_000))
        let cut = try HTTPTestSupport.run("curl", ["-sS", "-o", directory + "/cut", "\(server.baseURL)/blob"])
        #expect(cut.status == 18 || cut.status == 56)
        let received = try Data(contentsOf: URL(fileURLWithPath: directory + "/cut"))
        #expect(received.count == 100_000)
        #expect(received == fileBytes.prefix(100_000))
        let whole = try HTTPTestSupport.curl(["\(server.baseURL)/blob"])
        #expect(whole.body == fileBytes)
    }

    @Test("a stall before the answer delays only the stalled request")
    func stallBeforeAnswer() throws {
        faults.install(FaultRule(pathContains: "/slow", action: .stall, seconds: 3))
        let slow = Process()
        slow.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        slow.arguments = ["-sS", "-o", "/dev/null", "\(server.baseURL)/slow"]
        let started = Date()
        try slow.run()
        // Wait (bounded) until the stall fired, then check another request is served meanwhile.
        let deadline = Date().addingTimeInterval(10)
        while (faults.firedCounts.values.first ?? 0) == 0 && Date() < deadline { usleep(10_000) }
        #expect(faults.firedCounts.values.first == 1)
        #expect(try HTTPTestSupport.curl(["\(server.baseURL)/fast"]).status == 200)
        #expect(slow.isRunning)
        slow.waitUntilExit()
        #expect(slow.terminationStatus == 0)
        #expect(Date().timeIntervalSince(started) >= 3)
    }

    @Test("a stall in the middle of a body resumes and delivers every byte")
    func stallMidBody() throws {
        faults.install(FaultRule(pathContains: "/blob", action: .stall, afterBytes: 4096, seconds: 1))
        let started = Date()
        let r = try HTTPTestSupport.curl(["\(server.baseURL)/blob"])
        #expect(Date().timeIntervalSince(started) >= 1)
        #expect(r.status == 200)
        #expect(r.body == fileBytes)
    }

    @Test("stop() ends pending stalls instead of waiting them out")
    func stopDuringStall() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("stop")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let injector = FaultInjector(rules: [FaultRule(action: .stall, seconds: 60)])
        let local = try HTTPServer(configuration: HTTPServerConfiguration(service: "api", uploadDirectory: dir),
                                   handler: EchoHandler(files: [:]), faults: injector)
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        client.arguments = ["-sS", "-o", "/dev/null", "\(local.baseURL)/x"]
        try client.run()
        let deadline = Date().addingTimeInterval(10)
        while (injector.firedCounts.values.first ?? 0) == 0 && Date() < deadline { usleep(10_000) }
        let started = Date()
        local.stop()
        #expect(Date().timeIntervalSince(started) < 10)
        #expect(!local.isRunning)
        client.waitUntilExit()
    }

    @Test("a client that hangs up mid-download does not hurt the server (no SIGPIPE)")
    func clientHangUp() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("hangup")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let big = dir + "/big"
        let bytes = S3TestServer.bytes(64 << 20, seed: 91)
        try bytes.write(to: URL(fileURLWithPath: big))
        let local = try HTTPServer(configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: dir + "/up"),
                                   handler: EchoHandler(files: ["/big": big]))
        defer { local.stop() }
        for _ in 0..<3 {
            let r = try HTTPTestSupport.run("sh", ["-c", "curl -sS \"$0\" | head -c 1000 | wc -c", "\(local.baseURL)/big"])
            #expect(r.text.trimmingCharacters(in: .whitespacesAndNewlines) == "1000")
        }
        let whole = try HTTPTestSupport.curl(["\(local.baseURL)/big"])
        #expect(whole.body == bytes)
    }

    @Test("seeded probabilistic rules replay identically")
    func reproducible() {
        func sequence() -> [Bool] {
            let injector = FaultInjector(rules: [FaultRule(service: "s3", action: .status, status: 500, count: nil,
                                                           probability: 0.3, seed: 42)])
            return (0..<200).map { _ in
                injector.evaluate(service: "s3", method: "GET", path: "/b/k", actions: FaultInjector.transportActions) != nil
            }
        }
        let first = sequence()
        #expect(first == sequence())
        let fired = first.filter { $0 }.count
        #expect(fired > 30 && fired < 90)
        let injector = FaultInjector()
        let stored = injector.install(FaultRule(action: .rateLimit))
        #expect(stored.id == "fault-1")
        #expect(injector.rules.count == 1)
        #expect(injector.evaluate(service: "api", method: "GET", path: "/", actions: [.asyncError]) == nil)
        #expect(injector.remove(id: "fault-1"))
        #expect(injector.rules.isEmpty)
    }

    @Test("S3 faults answer SlowDown and InternalError XML")
    func s3Faults() throws {
        let injector = FaultInjector()
        let s3 = try S3TestServer(faults: injector)
        defer { s3.removeAll() }
        injector.install(FaultRule(service: "s3", action: .rateLimit))
        let slow = try s3.request("GET", "/staging", query: "list-type=2")
        #expect(slow.status == 503)
        #expect(slow.errorCode == "SlowDown")
        #expect(slow.xmlValue("RequestId") == slow.header("x-amz-request-id"))
        injector.install(FaultRule(service: "s3", action: .status, status: 500))
        let failed = try s3.request("GET", "/staging", query: "list-type=2")
        #expect(failed.status == 500)
        #expect(failed.errorCode == "InternalError")
        injector.install(FaultRule(service: "api", action: .rateLimit))
        #expect(try s3.request("GET", "/staging", query: "list-type=2").status == 200)
    }
}
