import Crypto
import Foundation
import Testing
@testable import ScalewaySimulator

@Suite("S3 objects and buckets", .serialized)
final class S3ObjectTests {
    let s3: S3TestServer
    init() throws { s3 = try S3TestServer() }
    deinit { s3.removeAll() }

    @Test("HeadBucket, GetBucketLocation, ListBuckets; NoSuchBucket; other project's bucket denied")
    func buckets() throws {
        #expect(try s3.request("HEAD", "/staging").status == 200)
        let location = try s3.request("GET", "/staging", query: "location")
        #expect(location.status == 200)
        #expect(location.text.contains(">fr-par</LocationConstraint>"))
        let list = try s3.request("GET", "/")
        #expect(list.xmlValues("Name") == ["staging"])
        let missing = try s3.request("GET", "/no-such-bucket", query: "list-type=2")
        #expect(missing.status == 404)
        #expect(missing.errorCode == "NoSuchBucket")
        #expect(try s3.request("HEAD", "/no-such-bucket").status == 404)
        let foreign = try s3.request("GET", "/\(S3TestServer.otherBucket)", query: "list-type=2")
        #expect(foreign.status == 403)
        #expect(foreign.errorCode == "AccessDenied")
    }

    @Test("CreateBucket and DeleteBucket (BucketNotEmpty, BucketAlreadyOwnedByYou)")
    func createDeleteBucket() throws {
        #expect(try s3.request("PUT", "/fresh-bucket").status == 200)
        #expect(s3.store.bucket(named: "fresh-bucket")?.projectID == S3TestKeys.project)
        #expect(try s3.request("PUT", "/fresh-bucket").errorCode == "BucketAlreadyOwnedByYou")
        #expect(try s3.request("PUT", "/\(S3TestServer.otherBucket)").errorCode == "BucketAlreadyExists")
        _ = try s3.request("PUT", "/fresh-bucket/x", body: Data("x".utf8))
        #expect(try s3.request("DELETE", "/fresh-bucket").errorCode == "BucketNotEmpty")
        #expect(try s3.request("DELETE", "/fresh-bucket/x").status == 204)
        #expect(try s3.request("DELETE", "/fresh-bucket").status == 204)
        #expect(try s3.request("PUT", "/Bad_Name").errorCode == "InvalidBucketName")
    }

    @Test("PutObject checks Content-MD5 (BadDigest, InvalidDigest) and stores metadata")
    func putObjectDigest() throws {
        let body = Data("content with md5".utf8)
        let good = try s3.request("PUT", "/staging/md5", headers: [("Content-MD5", S3TestServer.contentMD5(body)),
                                                                    ("Content-Type", "text/plain"),
                                                                    ("x-amz-meta-origin", "test")], body: body)
        #expect(good.status == 200)
        let bad = try s3.request("PUT", "/staging/md5-bad", headers: [("Content-MD5", S3TestServer.contentMD5(Data("other".utf8)))],
                                 body: body)
        #expect(bad.status == 400)
        #expect(bad.errorCode == "BadDigest")
        #expect(s3.store.object(bucket: "staging", key: "md5-bad") == nil)
        let invalid = try s3.request("PUT", "/staging/md5-bad", headers: [("Content-MD5", "nonsense")], body: body)
        #expect(invalid.errorCode == "InvalidDigest")
        let head = try s3.request("HEAD", "/staging/md5")
        #expect(head.status == 200)
        #expect(head.header("Content-Type") == "text/plain")
        #expect(head.header("Content-Length") == String(body.count))
        #expect(head.header("x-amz-meta-origin") == "test")
        #expect(head.header("Accept-Ranges") == "bytes")
        #expect(head.header("ETag") == "\"\(Hex.encode(Digest.md5(body)))\"")
        #expect(head.header("Last-Modified")?.hasSuffix("GMT") == true)
    }

    @Test("GetObject ranges: 206 with Content-Range, suffix, open-ended, 416 InvalidRange")
    func ranges() throws {
        let body = S3TestServer.bytes(10_000, seed: 3)
        _ = try s3.request("PUT", "/staging/ranged", body: body)
        let middle = try s3.request("GET", "/staging/ranged", headers: [("Range", "bytes=100-199")])
        #expect(middle.status == 206)
        #expect(middle.body == body[100..<200])
        #expect(middle.header("Content-Range") == "bytes 100-199/10000")
        #expect(middle.header("Content-Length") == "100")
        let suffix = try s3.request("GET", "/staging/ranged", headers: [("Range", "bytes=-10")])
        #expect(suffix.status == 206)
        #expect(suffix.body == body[9990..<10000])
        let open = try s3.request("GET", "/staging/ranged", headers: [("Range", "bytes=9000-")])
        #expect(open.body == body[9000...])
        let beyond = try s3.request("GET", "/staging/ranged", headers: [("Range", "bytes=9990-20000")])
        #expect(beyond.header("Content-Range") == "bytes 9990-9999/10000")
        let unsatisfiable = try s3.request("GET", "/staging/ranged", headers: [("Range", "bytes=10000-10010")])
        #expect(unsatisfiable.status == 416)
        #expect(unsatisfiable.errorCode == "InvalidRange")
        #expect(unsatisfiable.header("Content-Range") == "bytes */10000")
        let whole = try s3.request("GET", "/staging/ranged")
        #expect(whole.status == 200)
        #expect(whole.body == body)
        let overridden = try s3.request("GET", "/staging/ranged", query: "response-content-type=text%2Fplain")
        #expect(overridden.header("Content-Type") == "text/plain")
    }

    @Test("missing keys: NoSuchKey XML with Key, RequestId and HostId; HEAD 404 without body")
    func noSuchKey() throws {
        let get = try s3.request("GET", "/staging/absent")
        #expect(get.status == 404)
        #expect(get.errorCode == "NoSuchKey")
        #expect(get.xmlValue("Key") == "absent")
        #expect(get.xmlValue("RequestId") == get.header("x-amz-request-id"))
        #expect(get.xmlValue("HostId")?.isEmpty == false)
        let head = try s3.request("HEAD", "/staging/absent")
        #expect(head.status == 404)
    }

    @Test("DeleteObject answers 204, DeleteObjects needs Content-MD5 and deletes each key")
    func deletes() throws {
        for name in ["a", "b", "c"] { _ = try s3.request("PUT", "/staging/del/\(name)", body: Data(name.utf8)) }
        #expect(try s3.request("DELETE", "/staging/del/a").status == 204)
        #expect(try s3.request("DELETE", "/staging/del/a").status == 204)
        let xml = Data("<Delete><Object><Key>del/b</Key></Object><Object><Key>del/c</Key></Object></Delete>".utf8)
        let withoutMD5 = try s3.request("POST", "/staging", query: "delete", body: xml)
        #expect(withoutMD5.status == 400)
        #expect(withoutMD5.errorCode == "InvalidRequest")
        let deleted = try s3.request("POST", "/staging", query: "delete",
                                     headers: [("Content-MD5", S3TestServer.contentMD5(xml))], body: xml)
        #expect(deleted.status == 200)
        #expect(deleted.xmlValues("Key") == ["del/b", "del/c"])
        #expect(s3.store.objects(bucket: "staging", prefix: "del/").isEmpty)
    }

    @Test("CopyObject copies bytes and ETag")
    func copy() throws {
        let body = Data("copy me".utf8)
        _ = try s3.request("PUT", "/staging/source", body: body)
        let copied = try s3.request("PUT", "/staging/target", headers: [("x-amz-copy-source", "/staging/source")])
        #expect(copied.status == 200)
        #expect(copied.xmlValue("ETag") == "&quot;\(Hex.encode(Digest.md5(body)))&quot;" || copied.xmlValue("ETag") == "\"\(Hex.encode(Digest.md5(body)))\"")
        #expect(try s3.request("GET", "/staging/target").body == body)
    }

    @Test("permission sets: a read-only key reads but cannot write")
    func permissions() throws {
        _ = try s3.request("PUT", "/staging/readable", body: Data("r".utf8))
        #expect(try s3.request("GET", "/staging/readable", key: S3TestKeys.readOnly).status == 200)
        let write = try s3.request("PUT", "/staging/nope", body: Data("w".utf8), key: S3TestKeys.readOnly)
        #expect(write.status == 403)
        #expect(write.errorCode == "AccessDenied")
        #expect(try s3.request("DELETE", "/staging/readable", key: S3TestKeys.readOnly).errorCode == "AccessDenied")
        #expect(try s3.request("POST", "/staging/mp", query: "uploads", key: S3TestKeys.readOnly).errorCode == "AccessDenied")
    }

    @Test("an access key suffixed with @project targets that project")
    func projectSuffix() throws {
        var own = S3TestKeys.full
        own.accessKey += "@" + S3TestKeys.project
        #expect(try s3.request("GET", "/staging", query: "list-type=2", key: own).status == 200)
        var foreign = S3TestKeys.full
        foreign.accessKey += "@" + S3TestKeys.otherProject
        let denied = try s3.request("GET", "/\(S3TestServer.otherBucket)", query: "list-type=2", key: foreign)
        #expect(denied.status == 403)
        #expect(denied.errorCode == "AccessDenied")
    }

    @Test("virtual-host addressing through the Host header")
    func virtualHost() throws {
        let host = "staging.s3.fr-par.localhost:\(s3.server.port)"
        let put = try s3.request("PUT", "/vhost/key.bin", body: Data("vhost".utf8), hostHeader: host)
        #expect(put.status == 200)
        #expect(s3.store.object(bucket: "staging", key: "vhost/key.bin") != nil)
        let list = try s3.request("GET", "/", query: "list-type=2&prefix=vhost%2F", hostHeader: host)
        #expect(list.xmlValue("Name") == "staging")
        #expect(list.xmlValues("Key") == ["vhost/key.bin"])
    }

    @Test("objects and uploads survive a restart of the store")
    func persistence() throws {
        let body = S3TestServer.bytes(2 << 20, seed: 5)
        _ = try s3.request("PUT", "/staging/persist/one", headers: [("Content-Type", "application/x-qemu-disk")], body: body)
        let upload = try s3.request("POST", "/staging/persist/mp", query: "uploads")
        let uploadID = try #require(upload.xmlValue("UploadId"))
        _ = try s3.request("PUT", "/staging/persist/mp", query: "partNumber=1&uploadId=\(uploadID)", body: Data("part".utf8))
        s3.stop()
        let again = try S3TestServer(directory: s3.directory)
        defer { again.stop() }
        let get = try again.request("GET", "/staging/persist/one")
        #expect(get.body == body)
        #expect(get.header("Content-Type") == "application/x-qemu-disk")
        #expect(again.store.multipartUploads.map(\.uploadID) == [uploadID])
        let parts = try again.request("GET", "/staging/persist/mp", query: "uploadId=\(uploadID)")
        #expect(parts.xmlValues("PartNumber") == ["1"])
    }

    @Test("the ObjectStorage seam: putObject with a part size gives a -N ETag")
    func seamPut() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("seam")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let body = S3TestServer.bytes(11 << 20, seed: 7)
        try body.write(to: URL(fileURLWithPath: dir + "/image"))
        let stored = try s3.store.putObject(bucket: "staging", key: "export.qcow2", contentsOf: dir + "/image",
                                            contentType: "application/x-qemu-disk", partSize: 5 << 20)
        let md5s = [body[0..<(5 << 20)], body[(5 << 20)..<(10 << 20)], body[(10 << 20)...]].map { Digest.md5($0) }
        #expect(stored.etag == "\"\(Hex.encode(Digest.md5(md5s.flatMap { $0 })))-3\"")
        #expect(stored.size == Int64(body.count))
        let get = try s3.request("GET", "/staging/export.qcow2")
        #expect(get.body == body)
        #expect(get.header("ETag") == stored.etag)
        let last = try s3.request("GET", "/staging/export.qcow2", query: "partNumber=3")
        #expect(last.body == body[(10 << 20)...])
    }
}
