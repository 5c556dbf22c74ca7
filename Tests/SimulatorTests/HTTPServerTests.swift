import Foundation
import Testing
@testable import ScalewaySimulator

/// Echoes what it received: the raw target, method, selected headers and body size.
struct EchoHandler: HTTPHandler {
    let files: [String: String]
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        if request.method == "GET", let file = files[request.path] {
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int64) ?? 0
            return HTTPResponse(status: 200, body: .file(path: file, offset: 0, length: size))
        }
        var bodyKind = "none"
        var digest = ""
        switch request.body {
        case .none: break
        case let .bytes(b): bodyKind = "bytes"; digest = Hex.encode(Digest.sha256(b))
        case let .file(path, _):
            bodyKind = "file"
            digest = Hex.encode(Digest.sha256((try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()))
        case .placed:
            bodyKind = "placed"
            digest = Hex.encode(Digest.sha256((try? request.body.readAll()) ?? []))
        }
        let text = "\(request.method)|\(request.rawPath)|\(request.rawQuery)|\(request.headers["X-Test"] ?? "")|"
            + "\(bodyKind)|\(request.body.count)|\(digest)"
        var headers = HTTPHeaders()
        headers.set("X-Echo", "yes")
        return HTTPResponse(status: 200, headers: headers, body: .bytes(Array(text.utf8)))
    }
}

import Crypto

@Suite("HTTP server", .serialized)
struct HTTPServerTests {
    @Test("keeps the raw request target and headers")
    func rawTarget() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("http")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try HTTPServer(configuration: HTTPServerConfiguration(service: "api", uploadDirectory: dir + "/up"),
                                    handler: EchoHandler(files: [:]))
        defer { server.stop() }
        #expect(server.port > 0)
        let r = try HTTPTestSupport.curl(["-H", "X-Test: hello", "\(server.baseURL)/a%20b/c%2Fd+e?x=1%2B2&prefix=a%2Fb&uploads"])
        #expect(r.status == 200)
        #expect(String(decoding: r.body, as: UTF8.self) == "GET|/a%20b/c%2Fd+e|x=1%2B2&prefix=a%2Fb&uploads|hello|none|0|")
    }
}

/// Answers the digests the server computed while the body arrived.
struct DigestHandler: HTTPHandler {
    func handle(_ request: HTTPRequest) -> HTTPResponse {
        let d = request.bodyDigests
        let text = "\(d.map { Hex.encode($0.md5) } ?? "-")|\(d?.sha256.map { Hex.encode($0) } ?? "-")|\(request.body.count)"
        return HTTPResponse(status: 200, body: .bytes(Array(text.utf8)))
    }
}

@Suite("HTTP server body digests")
struct HTTPBodyDigestTests {
    @Test("bodies are hashed while they stream in: MD5 always, SHA-256 when a signed hash is announced")
    func digests() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("digests")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let server = try HTTPServer(configuration: HTTPServerConfiguration(service: "s3", uploadDirectory: dir + "/up"),
                                    handler: DigestHandler())
        defer { server.stop() }
        let bytes = S3TestServer.bytes(3 << 20, seed: 81)
        try bytes.write(to: URL(fileURLWithPath: dir + "/body"))
        let md5 = Hex.encode(Digest.md5(bytes))
        let sha = Hex.encode(Digest.sha256(bytes))
        let unsigned = try HTTPTestSupport.curl(["-T", dir + "/body", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
                                                 "\(server.baseURL)/u"])
        #expect(String(decoding: unsigned.body, as: UTF8.self) == "\(md5)|-|\(bytes.count)")
        let signed = try HTTPTestSupport.curl(["-T", dir + "/body", "-H", "x-amz-content-sha256: \(sha)",
                                               "\(server.baseURL)/s"])
        #expect(String(decoding: signed.body, as: UTF8.self) == "\(md5)|\(sha)|\(bytes.count)")
        let empty = try HTTPTestSupport.curl(["\(server.baseURL)/e"])
        #expect(String(decoding: empty.body, as: UTF8.self) == "\(Hex.encode(Digest.md5([UInt8]())))|-|0")
    }
}
