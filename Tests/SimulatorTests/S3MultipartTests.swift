import Crypto
import Foundation
import Testing
@testable import ScalewaySimulator

@Suite("S3 multipart uploads", .serialized)
final class S3MultipartTests {
    let s3: S3TestServer
    init() throws { s3 = try S3TestServer() }
    deinit { s3.removeAll() }

    private func create(_ key: String) throws -> String {
        let r = try s3.request("POST", "/staging/\(key)", query: "uploads", headers: [("Content-Type", "application/x-qemu-disk")])
        #expect(r.status == 200)
        return try #require(r.xmlValue("UploadId"))
    }

    private func part(_ key: String, _ id: String, _ number: Int, _ body: Data) throws -> CurlResponse {
        try s3.request("PUT", "/staging/\(key)", query: "partNumber=\(number)&uploadId=\(id)", body: body)
    }

    private func complete(_ key: String, _ id: String, _ parts: [(Int, String)]) throws -> CurlResponse {
        let xml = "<CompleteMultipartUpload>" + parts.map {
            "<Part><PartNumber>\($0.0)</PartNumber><ETag>\($0.1)</ETag></Part>"
        }.joined() + "</CompleteMultipartUpload>"
        return try s3.request("POST", "/staging/\(key)", query: "uploadId=\(id)", body: Data(xml.utf8))
    }

    @Test("create, upload parts, list, complete: bytes and md5-of-md5s ETag")
    func roundTrip() throws {
        let id = try create("big.qcow2")
        let p1 = S3TestServer.bytes(5 << 20, seed: 11)
        let p2 = S3TestServer.bytes(5 << 20, seed: 12)
        let p3 = S3TestServer.bytes(1234, seed: 13)
        var etags: [String] = []
        for (n, body) in [p1, p2, p3].enumerated() {
            let r = try part("big.qcow2", id, n + 1, body)
            #expect(r.status == 200)
            #expect(r.header("ETag") == "\"\(Hex.encode(Digest.md5(body)))\"")
            etags.append(r.header("ETag") ?? "")
        }
        let listed = try s3.request("GET", "/staging/big.qcow2", query: "uploadId=\(id)")
        #expect(listed.xmlValues("PartNumber") == ["1", "2", "3"])
        #expect(listed.xmlValues("Size") == ["\(5 << 20)", "\(5 << 20)", "1234"])
        let uploads = try s3.request("GET", "/staging", query: "uploads")
        #expect(uploads.xmlValues("UploadId") == [id])
        let done = try complete("big.qcow2", id, [(1, etags[0]), (2, etags[1]), (3, etags[2])])
        #expect(done.status == 200)
        let expected = Hex.encode(Digest.md5([p1, p2, p3].flatMap { Digest.md5($0) })) + "-3"
        #expect(done.text.contains(expected))
        let get = try s3.request("GET", "/staging/big.qcow2")
        #expect(get.body == p1 + p2 + p3)
        #expect(get.header("ETag") == "\"\(expected)\"")
        #expect(get.header("Content-Type") == "application/x-qemu-disk")
        #expect(s3.store.multipartUploads.isEmpty)

        let second = try s3.request("GET", "/staging/big.qcow2", query: "partNumber=2")
        #expect(second.status == 206)
        #expect(second.body == p2)
        #expect(second.header("x-amz-mp-parts-count") == "3")
        #expect(second.header("Content-Range") == "bytes \(5 << 20)-\((10 << 20) - 1)/\((10 << 20) + 1234)")
        #expect(try s3.request("HEAD", "/staging/big.qcow2", query: "partNumber=3").header("Content-Length") == "1234")
        #expect(try s3.request("GET", "/staging/big.qcow2", query: "partNumber=4").errorCode == "InvalidPartNumber")
    }

    @Test("EntityTooSmall, InvalidPartOrder, InvalidPart, part number limits")
    func rules() throws {
        let id = try create("rules")
        let small1 = try part("rules", id, 1, Data("one".utf8)).header("ETag") ?? ""
        let small2 = try part("rules", id, 2, Data("two".utf8)).header("ETag") ?? ""
        let tooSmall = try complete("rules", id, [(1, small1), (2, small2)])
        #expect(tooSmall.status == 400)
        #expect(tooSmall.errorCode == "EntityTooSmall")
        let order = try complete("rules", id, [(2, small2), (1, small1)])
        #expect(order.errorCode == "InvalidPartOrder")
        let wrongETag = try complete("rules", id, [(1, "\"00000000000000000000000000000000\"")])
        #expect(wrongETag.errorCode == "InvalidPart")
        let missing = try complete("rules", id, [(7, small1)])
        #expect(missing.errorCode == "InvalidPart")
        #expect(try part("rules", id, 1001, Data("x".utf8)).errorCode == "InvalidArgument")
        #expect(try part("rules", id, 0, Data("x".utf8)).errorCode == "InvalidArgument")
        #expect(try part("rules", id, 1000, Data("x".utf8)).status == 200)
        let single = try complete("rules", id, [(2, small2)])
        #expect(single.status == 200)
        #expect(try s3.request("GET", "/staging/rules").text == "two")
    }

    @Test("abort removes the upload: NoSuchUpload afterwards")
    func abort() throws {
        let id = try create("aborted")
        _ = try part("aborted", id, 1, Data("data".utf8))
        #expect(try s3.request("DELETE", "/staging/aborted", query: "uploadId=\(id)").status == 204)
        let again = try s3.request("DELETE", "/staging/aborted", query: "uploadId=\(id)")
        #expect(again.status == 404)
        #expect(again.errorCode == "NoSuchUpload")
        #expect(try part("aborted", id, 1, Data("x".utf8)).errorCode == "NoSuchUpload")
        #expect(try complete("aborted", id, [(1, "\"x\"")]).errorCode == "NoSuchUpload")
        #expect(try s3.request("GET", "/staging/aborted", query: "uploadId=\(id)").errorCode == "NoSuchUpload")
        #expect(s3.store.multipartUploads.isEmpty)
    }
}
