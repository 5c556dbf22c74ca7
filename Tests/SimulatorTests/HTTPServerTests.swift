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
