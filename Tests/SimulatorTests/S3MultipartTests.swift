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

/// Parts written into their slots of the upload's assembly file, and
/// completion without copying them (see `ObjectStore.reserveSlot`).
@Suite("S3 multipart assembly", .serialized)
final class S3MultipartAssemblyTests {
    let s3: S3TestServer
    init() throws { s3 = try S3TestServer() }
    deinit { s3.removeAll() }

    private func create(_ key: String, on server: S3TestServer? = nil) throws -> String {
        let r = try (server ?? s3).request("POST", "/staging/\(key)", query: "uploads")
        #expect(r.status == 200)
        return try #require(r.xmlValue("UploadId"))
    }

    private func part(_ key: String, _ id: String, _ number: Int, _ body: Data, on server: S3TestServer? = nil,
                      headers: [(String, String)] = [], key apiKey: APIKey = S3TestKeys.full,
                      payload: S3TestServer.Payload = .signed) throws -> CurlResponse {
        try (server ?? s3).request("PUT", "/staging/\(key)", query: "partNumber=\(number)&uploadId=\(id)", headers: headers,
                                   body: body, key: apiKey, payload: payload)
    }

    private func complete(_ key: String, _ id: String, _ parts: [(Int, Data)], on server: S3TestServer? = nil) throws -> CurlResponse {
        let xml = "<CompleteMultipartUpload>" + parts.map {
            "<Part><PartNumber>\($0.0)</PartNumber><ETag>\"\(Hex.encode(Digest.md5($0.1)))\"</ETag></Part>"
        }.joined() + "</CompleteMultipartUpload>"
        return try (server ?? s3).request("POST", "/staging/\(key)", query: "uploadId=\(id)", body: Data(xml.utf8))
    }

    private static func etag(_ parts: [Data]) -> String {
        Hex.encode(Digest.md5(parts.flatMap { Digest.md5($0) })) + "-\(parts.count)"
    }

    private func offsets(_ id: String, in store: ObjectStore? = nil) -> [Int64?] {
        (store ?? s3.store).upload(id)?.parts.map(\.offset) ?? []
    }

    private func uploadDirectory(_ id: String) -> String { s3.store.directory + "/multipart/" + id }

    /// Checks the object's bytes, ETag, ranges across every part boundary, HEAD, partNumber and listing.
    private func expectObject(_ key: String, _ parts: [Data], on server: S3TestServer) throws {
        let whole = parts.reduce(Data(), +)
        let etag = "\"\(Self.etag(parts))\""
        let get = try server.request("GET", "/staging/\(key)")
        #expect(get.status == 200)
        #expect(get.body == whole)
        #expect(get.header("ETag") == etag)
        var boundary = 0
        for (index, body) in parts.enumerated().dropLast() {
            boundary += body.count
            for (start, end) in [(boundary - 100, boundary + 99), (boundary - 1, boundary)] {
                let range = try server.request("GET", "/staging/\(key)", headers: [("Range", "bytes=\(start)-\(end)")])
                #expect(range.status == 206)
                #expect(range.body == whole[start...end])
                #expect(range.header("Content-Range") == "bytes \(start)-\(end)/\(whole.count)")
            }
            let number = try server.request("GET", "/staging/\(key)", query: "partNumber=\(index + 2)")
            #expect(number.body == parts[index + 1])
        }
        let across = try server.request("GET", "/staging/\(key)", headers: [("Range", "bytes=7-\(whole.count - 8)")])
        #expect(across.body == whole[7...(whole.count - 8)])
        let suffix = try server.request("GET", "/staging/\(key)", headers: [("Range", "bytes=-1000")])
        #expect(suffix.body == whole.suffix(1000))
        let head = try server.request("HEAD", "/staging/\(key)")
        #expect(head.header("Content-Length") == String(whole.count))
        #expect(head.header("ETag") == etag)
        let listed = try server.request("GET", "/staging", query: "list-type=2&prefix=\(key)")
        #expect(listed.xmlValues("Key") == [key])
        #expect(listed.xmlValues("Size") == [String(whole.count)])
        #expect(listed.text.contains(Self.etag(parts)))
    }

    @Test("parts land in their slots in any order; completion renames the assembly file")
    func inPlace() throws {
        let id = try create("slots.qcow2")
        let parts = [S3TestServer.bytes(5 << 20, seed: 21), S3TestServer.bytes(5 << 20, seed: 22),
                     S3TestServer.bytes(300_000, seed: 23)]
        // Part 2 arrives first and fixes the slot size; the short last part fits its slot.
        for number in [2, 3, 1] {
            let r = try part("slots.qcow2", id, number, parts[number - 1])
            #expect(r.status == 200)
            #expect(r.header("ETag") == "\"\(Hex.encode(Digest.md5(parts[number - 1])))\"")
        }
        #expect(offsets(id) == [0, 5 << 20, 10 << 20])
        let files = try FileManager.default.contentsOfDirectory(atPath: uploadDirectory(id))
        #expect(files.filter { !$0.hasSuffix(".json") } == [ObjectStore.assemblyFile])
        let done = try complete("slots.qcow2", id, [(1, parts[0]), (2, parts[1]), (3, parts[2])])
        #expect(done.status == 200)
        #expect(done.text.contains(Self.etag(parts)))
        #expect(!FileManager.default.fileExists(atPath: uploadDirectory(id)))
        try expectObject("slots.qcow2", parts, on: s3)
    }

    @Test("parts that do not fill their slots are copied: bytes and ETag as uploaded")
    func uneven() throws {
        let id = try create("uneven")
        let parts = [S3TestServer.bytes(6 << 20, seed: 31), S3TestServer.bytes(5 << 20, seed: 32),
                     S3TestServer.bytes(1234, seed: 33)]
        // The short part first: no slot size yet, so it gets a file of its own;
        // part 1 then fixes 6 MiB slots and part 2 (5 MiB) leaves a gap in its slot.
        for number in [3, 1, 2] { #expect(try part("uneven", id, number, parts[number - 1]).status == 200) }
        #expect(offsets(id) == [0, 6 << 20, nil])
        let done = try complete("uneven", id, [(1, parts[0]), (2, parts[1]), (3, parts[2])])
        #expect(done.status == 200)
        try expectObject("uneven", parts, on: s3)
        #expect(s3.store.multipartUploads.isEmpty)
    }

    @Test("completing fewer parts than uploaded ends the object at the last part listed")
    func subset() throws {
        let id = try create("subset")
        let parts = (1...3).map { S3TestServer.bytes(5 << 20, seed: UInt64(40 + $0)) }
        for (index, body) in parts.enumerated() { #expect(try part("subset", id, index + 1, body).status == 200) }
        let done = try complete("subset", id, [(1, parts[0]), (2, parts[1])])
        #expect(done.status == 200)
        try expectObject("subset", Array(parts.prefix(2)), on: s3)
    }

    @Test("a refused replacement leaves the accepted part intact; an accepted one replaces it")
    func replacement() throws {
        let original = S3TestServer.bytes(5 << 20, seed: 51)
        let replacement = S3TestServer.bytes(5 << 20, seed: 52)
        let last = S3TestServer.bytes(4096, seed: 53)

        let kept = try create("kept")
        #expect(try part("kept", kept, 1, original).status == 200)
        #expect(try part("kept", kept, 2, last).status == 200)
        let badMD5 = try part("kept", kept, 1, replacement, headers: [("Content-MD5", S3TestServer.contentMD5(last))])
        #expect(badMD5.errorCode == "BadDigest")
        let badHash = try part("kept", kept, 1, replacement, payload: .claimed(Hex.encode(Digest.sha256(last))))
        #expect(badHash.errorCode == "XAmzContentSHA256Mismatch")
        #expect(try complete("kept", kept, [(1, original), (2, last)]).status == 200)
        try expectObject("kept", [original, last], on: s3)

        let replaced = try create("replaced")
        #expect(try part("replaced", replaced, 1, original).status == 200)
        #expect(try part("replaced", replaced, 2, last).status == 200)
        #expect(try part("replaced", replaced, 1, replacement).status == 200)
        // The replacement cannot overwrite the accepted slot: it has a file of its own.
        #expect(offsets(replaced) == [nil, 5 << 20])
        #expect(try complete("replaced", replaced, [(1, original), (2, last)]).errorCode == "InvalidPart")
        #expect(try complete("replaced", replaced, [(1, replacement), (2, last)]).status == 200)
        try expectObject("replaced", [replacement, last], on: s3)
    }

    @Test("a refused or fault-injected part frees its slot; abort drops the assembly file")
    func refusedAndAborted() throws {
        let id = try create("refused")
        let body = S3TestServer.bytes(5 << 20, seed: 61)
        s3.faults.install(FaultRule(service: "s3", method: "PUT", pathContains: "/refused", action: .rateLimit, count: 1))
        #expect(try part("refused", id, 1, body).errorCode == "SlowDown")
        let denied = try part("refused", id, 1, body, key: S3TestKeys.readOnly)
        #expect(denied.errorCode == "AccessDenied")
        #expect(offsets(id) == [])
        #expect(try part("refused", id, 1, body).status == 200)
        #expect(offsets(id) == [0])
        #expect(FileManager.default.fileExists(atPath: uploadDirectory(id) + "/" + ObjectStore.assemblyFile))
        #expect(try s3.request("DELETE", "/staging/refused", query: "uploadId=\(id)").status == 204)
        #expect(!FileManager.default.fileExists(atPath: uploadDirectory(id)))
        #expect(try part("refused", id, 2, body).errorCode == "NoSuchUpload")
    }

    @Test("slots and the slot size survive a restart; so does the completed object")
    func restart() throws {
        let id = try create("persist.qcow2")
        let parts = [S3TestServer.bytes(5 << 20, seed: 71), S3TestServer.bytes(5 << 20, seed: 72),
                     S3TestServer.bytes(777_777, seed: 73)]
        #expect(try part("persist.qcow2", id, 1, parts[0]).status == 200)
        #expect(try part("persist.qcow2", id, 2, parts[1]).status == 200)
        s3.stop()
        let second = try S3TestServer(directory: s3.directory)
        #expect(offsets(id, in: second.store) == [0, 5 << 20])
        // The slot size came back with the upload: the last part still lands in its slot.
        #expect(try part("persist.qcow2", id, 3, parts[2], on: second).status == 200)
        #expect(offsets(id, in: second.store) == [0, 5 << 20, 10 << 20])
        #expect(try complete("persist.qcow2", id, [(1, parts[0]), (2, parts[1]), (3, parts[2])], on: second).status == 200)
        second.stop()
        let third = try S3TestServer(directory: s3.directory)
        defer { third.stop() }
        try expectObject("persist.qcow2", parts, on: third)
    }
}
