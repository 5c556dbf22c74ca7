import Foundation

extension S3Service {
    func listBuckets(_ context: S3RequestContext) throws -> HTTPResponse {
        guard context.auth.key.permissionSets.contains("ObjectStorageBucketsRead") else {
            throw S3Error.accessDenied("Access Denied: the API key lacks the ObjectStorageBucketsRead permission set.")
        }
        var xml = S3XMLWriter()
        xml.open("ListAllMyBucketsResult", namespace: true)
        Self.writeOwner(&xml, projectID: context.auth.projectID)
        xml.open("Buckets")
        for bucket in store.buckets where bucket.projectID == context.auth.projectID && bucket.region == region {
            xml.open("Bucket")
            xml.element("Name", bucket.name)
            xml.element("CreationDate", S3Dates.iso8601(store.creationDate(ofBucket: bucket.name)))
            xml.close("Bucket")
        }
        xml.close("Buckets")
        xml.close("ListAllMyBucketsResult")
        return Self.xmlResponse(xml)
    }

    func headBucket(_ context: S3RequestContext, _ name: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: name, permission: "ObjectStorageBucketsRead")
        var headers = HTTPHeaders()
        headers.set("x-amz-bucket-region", region)
        return HTTPResponse(status: 200, headers: headers)
    }

    func bucketLocation(_ context: S3RequestContext, _ name: String) throws -> HTTPResponse {
        let bucket = try authorize(context, bucket: name, permission: "ObjectStorageBucketsRead")
        var xml = S3XMLWriter()
        xml.text += #"<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">"#
            + S3XMLWriter.escape(bucket.region) + "</LocationConstraint>"
        return Self.xmlResponse(xml)
    }

    func createBucket(_ context: S3RequestContext, _ name: String) throws -> HTTPResponse {
        try context.checkPayload()
        guard context.auth.key.permissionSets.contains("ObjectStorageBucketsWrite") else {
            throw S3Error.accessDenied("Access Denied: the API key lacks the ObjectStorageBucketsWrite permission set.")
        }
        let body = try context.request.body.readAll()
        if !body.isEmpty {
            guard let root = S3XMLElement.parse(body), root.name == "CreateBucketConfiguration" else {
                throw S3Error.malformedXML()
            }
            if let constraint = root.child(named: "LocationConstraint")?.text, !constraint.isEmpty, constraint != region {
                throw S3Error(400, "InvalidLocationConstraint", "The specified location-constraint is not valid",
                              details: [("LocationConstraint", constraint)])
            }
        }
        try store.createBucket(BucketInfo(name: name, region: region, projectID: context.auth.projectID))
        var headers = HTTPHeaders()
        headers.set("Location", "/\(name)")
        return HTTPResponse(status: 200, headers: headers)
    }

    func deleteBucket(_ context: S3RequestContext, _ name: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: name, permission: "ObjectStorageBucketsWrite")
        try store.deleteBucket(named: name)
        return HTTPResponse(status: 204)
    }

    /// ListObjects (v1, `marker`) and ListObjectsV2 (`list-type=2`,
    /// `continuation-token`, `start-after`), with prefix, delimiter,
    /// max-keys and `encoding-type=url`.
    func listObjects(_ context: S3RequestContext, _ name: String, version2: Bool) throws -> HTTPResponse {
        _ = try authorize(context, bucket: name, permission: "ObjectStorageObjectsRead")
        let request = context.request
        let prefix = request.query("prefix") ?? ""
        let delimiter = request.query("delimiter").flatMap { $0.isEmpty ? nil : $0 }
        let urlEncoding: Bool
        switch request.query("encoding-type") {
        case nil, "": urlEncoding = false
        case "url": urlEncoding = true
        case let other?: throw S3Error.invalidArgument("Invalid Encoding Method specified in Request",
                                                       name: "encoding-type", value: other)
        }
        var maxKeys = 1000
        if let text = request.query("max-keys") {
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("Provided max-keys not an integer or within integer range",
                                              name: "max-keys", value: text)
            }
            maxKeys = min(value, 1000)
        }
        var after: String?
        let token = request.query("continuation-token")
        let startAfter = request.query("start-after")
        let marker = request.query("marker")
        if version2 {
            if let token {
                guard let decoded = ObjectListing.decodeToken(token) else {
                    throw S3Error.invalidArgument("The continuation token provided is incorrect",
                                                  name: "continuation-token", value: token)
                }
                after = decoded
            } else if let startAfter, !startAfter.isEmpty {
                after = startAfter
            }
        } else if let marker, !marker.isEmpty {
            after = marker
        }
        let page = ObjectListing.page(records: store.sortedRecords(bucket: name, prefix: prefix), prefix: prefix,
                                      delimiter: delimiter, after: after, maxKeys: maxKeys)
        func encode(_ text: String) -> String { urlEncoding ? ObjectListing.urlEncode(text) : text }

        var xml = S3XMLWriter()
        xml.open("ListBucketResult", namespace: true)
        xml.element("Name", name)
        xml.element("Prefix", encode(prefix))
        if version2 {
            if let token { xml.element("ContinuationToken", token) }
            if let startAfter { xml.element("StartAfter", encode(startAfter)) }
            if page.truncated, let last = page.lastEntry {
                xml.element("NextContinuationToken", ObjectListing.encodeToken(last))
            }
            xml.element("KeyCount", page.contents.count + page.commonPrefixes.count)
        } else {
            xml.element("Marker", encode(marker ?? ""))
            if page.truncated, delimiter != nil, let last = page.lastEntry { xml.element("NextMarker", encode(last)) }
        }
        xml.element("MaxKeys", maxKeys)
        if let delimiter { xml.element("Delimiter", encode(delimiter)) }
        if urlEncoding { xml.element("EncodingType", "url") }
        xml.element("IsTruncated", page.truncated)
        for record in page.contents {
            xml.open("Contents")
            xml.element("Key", encode(record.key))
            xml.element("LastModified", S3Dates.iso8601(record.lastModified))
            xml.element("ETag", "\"\(record.etag)\"")
            xml.element("Size", record.size)
            if !version2 || request.query("fetch-owner") == "true" {
                Self.writeOwner(&xml, projectID: context.auth.projectID)
            }
            xml.element("StorageClass", "STANDARD")
            xml.close("Contents")
        }
        for commonPrefix in page.commonPrefixes {
            xml.open("CommonPrefixes")
            xml.element("Prefix", encode(commonPrefix))
            xml.close("CommonPrefixes")
        }
        xml.close("ListBucketResult")
        return Self.xmlResponse(xml)
    }
}

/// The paging logic of the object listings.
enum ObjectListing {
    struct Page {
        var contents: [ObjectRecord] = []
        var commonPrefixes: [String] = []
        var truncated = false
        /// The last key or common prefix returned (the next page starts after it).
        var lastEntry: String?
    }

    /// One page of `records` (sorted, already filtered by `prefix`): keys
    /// after `after`, rolled up into common prefixes at `delimiter`.
    static func page(records: [ObjectRecord], prefix: String, delimiter: String?, after: String?,
                     maxKeys: Int) -> Page {
        var page = Page()
        var count = 0
        for record in records {
            let key = record.key
            var entry = key
            var isPrefix = false
            if let delimiter {
                let rest = key.dropFirst(prefix.count)
                if let range = rest.range(of: delimiter) {
                    entry = prefix + String(rest[..<range.upperBound])
                    isPrefix = true
                }
            }
            // Entries up to `after` were on earlier pages (a common prefix
            // equal to `after` included: its keys all sort after it).
            if let after, !after.utf8.lexicographicallyPrecedes(entry.utf8) { continue }
            if isPrefix && page.commonPrefixes.last == entry { continue }
            if count == maxKeys {
                page.truncated = true
                break
            }
            if isPrefix { page.commonPrefixes.append(entry) } else { page.contents.append(record) }
            page.lastEntry = entry
            count += 1
        }
        return page
    }

    static func encodeToken(_ last: String) -> String { Data(last.utf8).base64EncodedString() }

    static func decodeToken(_ token: String) -> String? {
        Data(base64Encoded: token).map { String(decoding: $0, as: UTF8.self) }
    }

    /// S3's `encoding-type=url`: form encoding (space as `+`), `/` kept.
    static func urlEncode(_ text: String) -> String {
        var out = ""
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: " "):
                out += "+"
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte >> 4)]))
                out.unicodeScalars.append(Unicode.Scalar(hex[Int(byte & 0x0f)]))
            }
        }
        return out
    }
}
