import Foundation
import Logging
import Synchronization
import Testing
@testable import ScalewayKit

/// The libcurl transport against a scripted local server: bodies, reuse,
/// TLS trust, cancellation, failures and redacted logs.
@Suite struct TransportTests {
    @Test func collectsBodyAndHeadersAndReusesTheConnection() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "GET", "path": "/hello", "responses": [["status": 200, "body": ["greeting": "hi"], "headers": ["X-Custom": "yes"]]]],
        ]])
        defer { server.stop() }
        let transport = try Transport()
        for _ in 0..<3 {
            let response = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/hello"))
            #expect(response.status == 200)
            #expect(String(decoding: response.body, as: UTF8.self) == #"{"greeting": "hi"}"#)
            #expect(response.headers["x-custom"] == "yes")
            #expect(response.head.requestID?.hasPrefix("req-") == true)
        }
        // Sequential requests reuse one pooled handle (and its kept-alive connection).
        #expect(transport.idleHandleCount(origin: "http://127.0.0.1:\(server.port)") == 1)
    }

    @Test func sendsBodiesWithExplicitLengthNeverChunked() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "POST", "path": "/items", "responses": [["status": 201, "body": ["ok": true]]]],
            ["method": "PATCH", "path": "/items/1", "responses": [["status": 200, "body": ["ok": true]]]],
            ["method": "PUT", "path": "/blob", "responses": [["status": 200, "body": ""]]],
        ]])
        defer { server.stop() }
        let transport = try Transport()
        let json = Array(#"{"name":"x"}"#.utf8)
        _ = try await transport.send(HTTPRequest(method: .post, url: server.baseURL + "/items",
                                                 headers: ["Content-Type": "application/json"], body: .bytes(json)))
        _ = try await transport.send(HTTPRequest(method: .patch, url: server.baseURL + "/items/1", body: .bytes(json)))
        let blob = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        let path = NSTemporaryDirectory() + "blob-\(UUID().uuidString)"
        try Data(blob).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        _ = try await transport.send(HTTPRequest(method: .put, url: server.baseURL + "/blob",
                                                 body: .file(path: path, offset: 1000, length: 200_000)))
        let log = try server.log()
        #expect(log.map(\.method) == ["POST", "PATCH", "PUT"])
        #expect(log[0].body == #"{"name":"x"}"# && log[0].header("Content-Length") == "12")
        #expect(log[1].body == #"{"name":"x"}"#)
        #expect(log[2].header("Content-Length") == "200000")
        #expect(log.allSatisfy { $0.header("Transfer-Encoding") == nil && $0.header("Expect") == nil })
    }

    @Test func streamsIntoASinkOnlyWhenAccepted() async throws {
        let server = try await ScriptedServer(plan: [
            "objects": ["/b/obj": ["size": 2_500_000, "seed": 7]],
            "routes": [["method": "GET", "path": "/missing", "responses": [["status": 404, "body": ["type": "not_found"]]]]],
        ])
        defer { server.stop() }
        let transport = try Transport(configuration: TransportConfiguration(maxCollectedBodyBytes: 1 << 20))
        let received = Mutex<[UInt8]>([])
        let sink = ResponseSink { bytes in received.withLock { $0.append(contentsOf: bytes) } }
        let response = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/b/obj"), sink: sink)
        #expect(response.status == 200 && response.body.isEmpty && response.bodyBytesReceived == 2_500_000)
        #expect(received.withLock { $0 } == ScriptedServer.content(seed: 7, range: 0..<2_500_000))
        // An error answer is collected, not streamed.
        let missing = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/missing"), sink: sink)
        #expect(missing.status == 404 && String(decoding: missing.body, as: UTF8.self).contains("not_found"))
        // Without a sink, a body over the limit is refused rather than buffered.
        let error = await #expect(throws: TransportError.self) {
            _ = try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/b/obj"))
        }
        #expect(error?.kind == .response)
    }

    @Test func httpsTrustsTheConfiguredCAAndRefusesOthers() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "GET", "path": "/tls", "responses": [["status": 200, "body": ["secure": true]]]],
        ]], tls: true)
        defer { server.stop() }
        let url = "https://127.0.0.1:\(server.port)/tls"
        let trusted = try Transport(configuration: TransportConfiguration(tls: TLSConfiguration(extraCAFile: server.caFile)))
        #expect(try await trusted.send(HTTPRequest(method: .get, url: url)).status == 200)

        for transport in [try Transport(), try Transport(configuration: TransportConfiguration(tls: TLSConfiguration(extraCAFile: server.rogueCAFile)))] {
            let error = await #expect(throws: TransportError.self) {
                _ = try await transport.send(HTTPRequest(method: .get, url: url))
            }
            #expect(error?.kind == .certificateUntrusted)
            #expect(error?.description.contains("not trusted") == true)
            #expect(error?.description.contains("ca_file") == true)
            #expect(error?.requestMayHaveBeenSent == false)
        }
        // Skipping verification is possible for loopback only (and only when asked).
        let loopback = try Transport(configuration: TransportConfiguration(tls: TLSConfiguration(allowUnverifiedLoopback: true)))
        #expect(try await loopback.send(HTTPRequest(method: .get, url: url)).status == 200)
        #expect(RequestTargetProbe.isLoopback("https://127.0.0.1:1/") && RequestTargetProbe.isLoopback("https://localhost/"))
        #expect(!RequestTargetProbe.isLoopback("https://api.scaleway.com/") && !RequestTargetProbe.isLoopback("https://127.example.com/"))
        #expect(RequestTargetProbe.isLoopback("https://[::1]:8443/") && RequestTargetProbe.isLoopback("http://127.1.2.3/"))
    }

    @Test func systemCAStoreStaysTrustedBesideAnExtraCAFile() {
        // With an extra CA file, CAINFO points at it and CAPATH keeps the system directory.
        let path = CurlGlobal.systemCAPath ?? Transport.fallbackSystemCAPath
        #expect(path != nil)
        #expect(FileManager.default.fileExists(atPath: path ?? "/nonexistent"))
    }

    @Test func missingCAFileIsAConfigurationError() {
        #expect(throws: TransportError.self) {
            _ = try Transport(configuration: TransportConfiguration(tls: TLSConfiguration(extraCAFile: "/nonexistent/ca.pem")))
        }
    }

    @Test func cancellationAbortsWithinASecond() async throws {
        let server = try await ScriptedServer(plan: ["objects": ["/b/slow": ["size": 1000, "seed": 1, "slow": true]]])
        defer { server.stop() }
        let transport = try Transport()
        let (bodyBytes, arrived) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let task = Task {
            try await transport.send(HTTPRequest(method: .get, url: server.baseURL + "/b/slow"),
                                     sink: ResponseSink { _ in arrived.yield() })
        }
        // Woken by the first body byte (bounded generously: sanitized builds are slow).
        let firstByte = await withTaskGroup(of: Bool.self) { group in
            group.addTask { for await _ in bodyBytes { return true }; return false }
            group.addTask { try? await Task.sleep(for: .seconds(120)); return false }
            defer { group.cancelAll() }
            return await group.next() ?? false
        }
        #expect(firstByte)
        // Timed on the wire: when the server sees the connection go away
        // (the awaiting task itself may resume later on a busy machine).
        let cancelledAt = Date().timeIntervalSince1970
        task.cancel()
        let result = await task.result
        guard case .failure(let error as TransportError) = result else {
            Issue.record("expected a cancelled TransportError, got \(result)")
            return
        }
        // The server logs DISCONNECTED when it notices: wait for that line,
        // woken by each change of the log file (inotify), not by polling.
        let disconnected = try await BlockingWork.run {
            try waitForChanges(of: "\(server.directory)/log.jsonl", timeout: .seconds(120)) {
                try server.log().first { $0.method == "DISCONNECTED" }.flatMap { Double($0.headers["time"] ?? "") }
            }
        }
        let abortDelay = try #require(disconnected) - cancelledAt
        // The server notices on its next one-byte write, at most 0.2 s after the close.
        #expect(abortDelay < 1.2, "the connection closed \(abortDelay) s after cancellation")
        #expect(error.kind == .cancelled)
    }

    @Test func refusedConnectionProvesTheRequestWasNotSent() async throws {
        let port = try TestSupport.freePort()
        let error = await #expect(throws: TransportError.self) {
            _ = try await Transport().send(HTTPRequest(method: .post, url: "http://127.0.0.1:\(port)/x", body: .bytes([1])))
        }
        #expect(error?.kind == .connectFailed && error?.requestMayHaveBeenSent == false && error?.isTransient == true)
    }

    @Test func logsRedactCredentials() async throws {
        let server = try await ScriptedServer(plan: ["routes": [
            ["method": "GET", "path": "/secret", "responses": [["status": 200, "body": ["ok": true]]]],
        ]])
        defer { server.stop() }
        let lines = Mutex<[String]>([])
        let previous = Logger.threshold
        Logger.redirect { line in lines.withLock { $0.append(line) } }
        Logger.setThreshold(.trace)
        defer {
            Logger.setThreshold(previous)
            Logger.redirect(nil)
        }
        let secret = "99999999-8888-7777-6666-555555555555"
        _ = try await Transport().send(HTTPRequest(method: .get, url: server.baseURL + "/secret",
            headers: ["X-Auth-Token": secret, "Authorization": "AWS4-HMAC-SHA256 Credential=X, Signature=\(secret)"]))
        let captured = lines.withLock { $0 }.filter { $0.contains("[http]") }
        #expect(captured.contains { $0.contains("/secret") && $0.contains("X-Auth-Token: <redacted>") && $0.contains("Authorization: <redacted>") })
        #expect(captured.contains { $0.contains("-> 200") })
        #expect(!captured.contains { $0.contains(secret) })
    }
}

/// Exposes the loopback rule of ``RequestTarget`` to tests.
enum RequestTargetProbe {
    static func isLoopback(_ url: String) -> Bool { (try? RequestTarget(url: url))?.isLoopback ?? false }
}

/// Returns `value()` once it is non-nil, re-evaluating it whenever the file
/// at `path` is modified (inotify), or `nil` after `timeout`. Blocking: run
/// it on a dedicated thread.
func waitForChanges<T>(of path: String, timeout: Duration, _ value: () throws -> T?) throws -> T? {
    let fd = inotify_init1(Int32(IN_CLOEXEC))
    guard fd >= 0 else { throw TestFailure("inotify_init1 failed: errno \(errno)") }
    defer { close(fd) }
    guard inotify_add_watch(fd, path, UInt32(IN_MODIFY)) >= 0 else { throw TestFailure("cannot watch \(path): errno \(errno)") }
    let deadline = ContinuousClock.now + timeout
    var events = [UInt8](repeating: 0, count: 4096)
    while true {
        // Checked after the watch is in place, so no change can be missed.
        if let found = try value() { return found }
        let left = deadline - ContinuousClock.now
        let ms = Int32(clamping: left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000)
        guard ms > 0 else { return nil }
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, ms) > 0 {
            _ = events.withUnsafeMutableBytes { read(fd, $0.baseAddress!, $0.count) }
        }
    }
}
