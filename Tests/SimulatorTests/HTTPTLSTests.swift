import Foundation
import Testing
@testable import ScalewaySimulator

@Suite("HTTPS with the generated CA", .serialized)
struct HTTPTLSTests {
    @Test("curl trusts the server with --cacert, refuses it without; the CA persists")
    func tls() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("tls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let material = try TLSMaterial.loadOrGenerate(in: dir + "/tls")
        let server = try HTTPServer(configuration: HTTPServerConfiguration(service: "api", uploadDirectory: dir + "/up",
                                                                           tls: material),
                                    handler: EchoHandler(files: [:]))
        defer { server.stop() }
        #expect(server.baseURL.hasPrefix("https://127.0.0.1:"))
        #expect(server.caFile == material.caFile)
        let trusted = try HTTPTestSupport.curl(["--cacert", material.caFile, "\(server.baseURL)/hello?x=1"])
        #expect(trusted.status == 200)
        #expect(String(decoding: trusted.body, as: UTF8.self).hasPrefix("GET|/hello|x=1|"))
        let byName = try HTTPTestSupport.curl(["--cacert", material.caFile, "https://localhost:\(server.port)/n"])
        #expect(byName.status == 200)
        let untrusted = try HTTPTestSupport.run("curl", ["-sS", "-o", "/dev/null", "\(server.baseURL)/hello"])
        #expect(untrusted.status == 60)
        let plain = try HTTPTestSupport.run("curl", ["-sS", "-o", "/dev/null", "-w", "%{http_code}",
                                                     "http://127.0.0.1:\(server.port)/hello"])
        #expect(plain.text != "200")
        // A restart reuses the CA its clients already trust.
        let again = try TLSMaterial.loadOrGenerate(in: dir + "/tls")
        #expect(again.certificatePEM == material.certificatePEM)
    }

    @Test("S3 over HTTPS with SigV4")
    func s3OverTLS() throws {
        let s3 = try S3TestServer(tls: true)
        defer { s3.removeAll() }
        let body = S3TestServer.bytes(3 << 20, seed: 31)
        #expect(try s3.request("PUT", "/staging/tls.bin", body: body).status == 200)
        let get = try s3.request("GET", "/staging/tls.bin", headers: [("Range", "bytes=1000-")])
        #expect(get.status == 206)
        #expect(get.body == body[1000...])
    }
}
