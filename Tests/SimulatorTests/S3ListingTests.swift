import Foundation
import Testing
@testable import ScalewaySimulator

@Suite("S3 listings", .serialized)
final class S3ListingTests {
    let s3: S3TestServer
    let keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "d e/5", "plus+key"]

    init() throws {
        s3 = try S3TestServer()
        let dir = try HTTPTestSupport.temporaryDirectory("list")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (index, key) in keys.enumerated() {
            try Data([UInt8(index)]).write(to: URL(fileURLWithPath: dir + "/f"))
            try s3.store.putObject(bucket: "staging", key: key, contentsOf: dir + "/f", contentType: "x/y", partSize: nil)
        }
    }
    deinit { s3.removeAll() }

    @Test("ListObjectsV2 lists every key in order with sizes and ETags")
    func all() throws {
        let r = try s3.request("GET", "/staging", query: "list-type=2")
        #expect(r.status == 200)
        #expect(r.xmlValues("Key") == keys)
        #expect(r.xmlValue("KeyCount") == String(keys.count))
        #expect(r.xmlValue("IsTruncated") == "false")
        #expect(r.xmlValues("Size") == Array(repeating: "1", count: keys.count))
    }

    @Test("prefix and delimiter roll keys up into CommonPrefixes")
    func delimiter() throws {
        let root = try s3.request("GET", "/staging", query: "list-type=2&delimiter=%2F")
        #expect(root.xmlValues("Key") == ["c", "plus+key"])
        #expect(root.text.components(separatedBy: "<CommonPrefixes>").count - 1 == 3)
        #expect(root.xmlValues("Prefix").filter { !$0.isEmpty } == ["a/", "b/", "d e/"])
        let a = try s3.request("GET", "/staging", query: "list-type=2&prefix=a%2F&delimiter=%2F")
        #expect(a.xmlValues("Key") == ["a/1", "a/2"])
        #expect(a.xmlValues("Prefix").contains("a/b/"))
    }

    @Test("max-keys pages with continuation tokens; start-after skips")
    func paging() throws {
        var seen: [String] = []
        var token: String?
        var pages = 0
        repeat {
            var query = "list-type=2&max-keys=2"
            if let token { query += "&continuation-token=" + SigV4Verifier.uriEncode(token) }
            let r = try s3.request("GET", "/staging", query: query)
            #expect(r.status == 200)
            seen += r.xmlValues("Key")
            token = r.xmlValue("IsTruncated") == "true" ? r.xmlValue("NextContinuationToken") : nil
            pages += 1
        } while token != nil && pages < 10
        #expect(seen == keys)
        #expect(pages == 4)
        let after = try s3.request("GET", "/staging", query: "list-type=2&start-after=b%2F4")
        #expect(after.xmlValues("Key") == ["c", "d e/5", "plus+key"])
    }

    @Test("delimiter paging does not repeat a common prefix")
    func delimiterPaging() throws {
        var entries: [String] = []
        var token: String?
        var pages = 0
        repeat {
            var query = "list-type=2&delimiter=%2F&max-keys=1"
            if let token { query += "&continuation-token=" + SigV4Verifier.uriEncode(token) }
            let r = try s3.request("GET", "/staging", query: query)
            entries += r.xmlValues("Key") + r.xmlValues("Prefix").filter { !$0.isEmpty }
            token = r.xmlValue("IsTruncated") == "true" ? r.xmlValue("NextContinuationToken") : nil
            pages += 1
        } while token != nil && pages < 10
        #expect(entries == ["a/", "b/", "c", "d e/", "plus+key"])
    }

    @Test("encoding-type=url encodes keys (space as +, + as %2B); ListObjects v1 uses markers")
    func encodingAndV1() throws {
        let r = try s3.request("GET", "/staging", query: "list-type=2&encoding-type=url&prefix=d")
        #expect(r.xmlValues("Key") == ["d+e/5"])
        let p = try s3.request("GET", "/staging", query: "list-type=2&encoding-type=url&prefix=plus")
        #expect(p.xmlValues("Key") == ["plus%2Bkey"])
        let v1 = try s3.request("GET", "/staging", query: "marker=b%2F4&max-keys=2")
        #expect(v1.xmlValues("Key") == ["c", "d e/5"])
        #expect(v1.xmlValue("IsTruncated") == "true")
        let bad = try s3.request("GET", "/staging", query: "list-type=2&max-keys=abc")
        #expect(bad.errorCode == "InvalidArgument")
    }
}
