import Crypto
import Foundation

extension S3Service {
    func getObject(_ context: S3RequestContext, _ bucket: String, _ key: String, head: Bool) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsRead")
        guard let record = store.record(bucket: bucket, key: key) else { throw S3Error.noSuchKey(key) }
        let request = context.request
        let etag = "\"\(record.etag)\""
        var headers = HTTPHeaders()
        headers.set("ETag", etag)
        headers.set("Last-Modified", S3Dates.http(record.lastModified))
        headers.set("Accept-Ranges", "bytes")
        headers.set("Content-Type", record.contentType)
        for (name, value) in record.metadata.sorted(by: { $0.key < $1.key }) { headers.set(name, value) }
        // Presigned URLs may override representation headers (`response-content-type=...`).
        for (parameter, header) in Self.responseOverrides {
            if let value = request.query(parameter) { headers.set(header, value) }
        }

        // Conditional requests (ETag based).
        if let ifMatch = request.headers["If-Match"], !Self.etagList(ifMatch, contains: etag) {
            throw S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                          details: [("Condition", "If-Match")])
        }
        if let ifNoneMatch = request.headers["If-None-Match"], Self.etagList(ifNoneMatch, contains: etag) {
            var notModified = HTTPHeaders()
            notModified.set("ETag", etag)
            notModified.set("Last-Modified", S3Dates.http(record.lastModified))
            return HTTPResponse(status: 304, headers: notModified)
        }

        let path = store.dataFilePath(bucket: bucket, record: record)
        if let partText = request.query("partNumber") {
            // One part of a multipart object (the whole object is part 1 of a simple one).
            guard request.headers["Range"] == nil else {
                throw S3Error.invalidRequest("Cannot specify both Range header and partNumber query parameter")
            }
            guard let number = Int(partText), number >= 1, number <= Self.maxParts else {
                throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Self.maxParts), inclusive",
                                              name: "partNumber", value: partText)
            }
            let sizes = record.partSizes ?? [record.size]
            guard number <= sizes.count else {
                throw S3Error(416, "InvalidPartNumber", "The requested partnumber is not satisfiable",
                              details: [("PartNumberRequested", partText), ("ActualPartCount", String(sizes.count))])
            }
            let start = sizes.prefix(number - 1).reduce(0, +)
            let length = sizes[number - 1]
            if record.partSizes != nil { headers.set("x-amz-mp-parts-count", String(sizes.count)) }
            headers.set("Content-Range", "bytes \(start)-\(start + length - 1)/\(record.size)")
            return HTTPResponse(status: 206, headers: headers, body: .file(path: path, offset: start, length: length))
        }
        if let rangeHeader = request.headers["Range"] {
            switch Self.parseRange(rangeHeader, size: record.size) {
            case .whole:
                break
            case .unsatisfiable:
                throw S3Error(416, "InvalidRange", "The requested range is not satisfiable",
                              details: [("RangeRequested", rangeHeader), ("ActualObjectSize", String(record.size))],
                              headers: [("Content-Range", "bytes */\(record.size)")])
            case let .bytes(start, end):
                headers.set("Content-Range", "bytes \(start)-\(end)/\(record.size)")
                return HTTPResponse(status: 206, headers: headers,
                                    body: .file(path: path, offset: start, length: end - start + 1))
            }
        }
        return HTTPResponse(status: 200, headers: headers, body: .file(path: path, offset: 0, length: record.size))
    }

    static let responseOverrides: [(String, String)] = [
        ("response-content-type", "Content-Type"), ("response-content-disposition", "Content-Disposition"),
        ("response-content-encoding", "Content-Encoding"), ("response-content-language", "Content-Language"),
        ("response-cache-control", "Cache-Control"), ("response-expires", "Expires"),
    ]

    func putObject(_ context: S3RequestContext, _ bucket: String, _ key: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        let request = context.request
        guard request.body.count <= Self.maxSinglePut else {
            throw S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                          details: [("ProposedSize", String(request.body.count)), ("MaxSizeAllowed", String(Self.maxSinglePut))])
        }
        try checkStorageClass(request)
        try context.checkContentMD5(required: false)
        let md5 = try context.checkPayload().md5
        let file = try context.bodyFile(in: store)
        let record = try store.install(bucket: bucket, key: key, from: file, etag: Hex.encode(md5),
                                      contentType: request.headers["Content-Type"] ?? "binary/octet-stream",
                                      metadata: context.storedMetadata, partSizes: nil)
        var headers = HTTPHeaders()
        headers.set("ETag", "\"\(record.etag)\"")
        return HTTPResponse(status: 200, headers: headers)
    }

    func copyObject(_ context: S3RequestContext, _ bucket: String, _ key: String) throws -> HTTPResponse {
        try context.checkPayload()
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        let request = context.request
        let sourceHeader = request.headers["x-amz-copy-source"] ?? ""
        let decoded = (sourceHeader.removingPercentEncoding ?? sourceHeader).split(separator: "?").first.map(String.init) ?? ""
        let trimmed = decoded.hasPrefix("/") ? String(decoded.dropFirst()) : decoded
        guard let slash = trimmed.firstIndex(of: "/") else {
            throw S3Error.invalidArgument("Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
                                          name: "x-amz-copy-source", value: sourceHeader)
        }
        let sourceBucket = String(trimmed[..<slash])
        let sourceKey = String(trimmed[trimmed.index(after: slash)...])
        _ = try authorize(context, bucket: sourceBucket, permission: "ObjectStorageObjectsRead")
        guard let source = store.record(bucket: sourceBucket, key: sourceKey) else { throw S3Error.noSuchKey(sourceKey) }
        let replace = request.headers["x-amz-metadata-directive"]?.uppercased() == "REPLACE"
        if sourceBucket == bucket && sourceKey == key && !replace {
            throw S3Error.invalidRequest("This copy request is illegal because it is trying to copy an object to itself"
                                         + " without changing the object's metadata, storage class, website redirect location"
                                         + " or encryption attributes.")
        }
        let copy = store.temporaryFile()
        try FileMover.copy(store.dataFilePath(bucket: sourceBucket, record: source), to: copy)
        let record = try store.install(bucket: bucket, key: key, from: copy, etag: source.etag,
                                      contentType: replace ? (request.headers["Content-Type"] ?? "binary/octet-stream")
                                          : source.contentType,
                                      metadata: replace ? context.storedMetadata : source.metadata,
                                      partSizes: source.partSizes)
        var xml = S3XMLWriter()
        xml.open("CopyObjectResult", namespace: true)
        xml.element("LastModified", S3Dates.iso8601(record.lastModified))
        xml.element("ETag", "\"\(record.etag)\"")
        xml.close("CopyObjectResult")
        return Self.xmlResponse(xml)
    }

    func deleteObject(_ context: S3RequestContext, _ bucket: String, _ key: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        store.deleteObject(bucket: bucket, key: key)
        return HTTPResponse(status: 204)
    }

    /// DeleteObjects: `POST /bucket?delete` with up to 1000 keys; Content-MD5
    /// (or an `x-amz-checksum-*` header) is required.
    func deleteObjects(_ context: S3RequestContext, _ bucket: String) throws -> HTTPResponse {
        try context.checkContentMD5(required: true)
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        guard let root = S3XMLElement.parse(try context.request.body.readAll()), root.name == "Delete" else {
            throw S3Error.malformedXML()
        }
        let objects = root.children(named: "Object")
        guard !objects.isEmpty, objects.count <= 1000 else { throw S3Error.malformedXML() }
        let quiet = root.child(named: "Quiet")?.text.lowercased() == "true"
        var xml = S3XMLWriter()
        xml.open("DeleteResult", namespace: true)
        for object in objects {
            guard let key = object.child(named: "Key")?.text, !key.isEmpty else { throw S3Error.malformedXML() }
            store.deleteObject(bucket: bucket, key: key)
            if !quiet {
                xml.open("Deleted")
                xml.element("Key", key)
                xml.close("Deleted")
            }
        }
        xml.close("DeleteResult")
        return Self.xmlResponse(xml)
    }

    func checkStorageClass(_ request: HTTPRequest) throws {
        if let storageClass = request.headers["x-amz-storage-class"],
           !["STANDARD", "ONEZONE_IA", "GLACIER"].contains(storageClass) {
            throw S3Error(400, "InvalidStorageClass", "The storage class you specified is not valid",
                          details: [("StorageClassRequested", storageClass)])
        }
    }

    // MARK: Ranges and conditions

    enum RangeRequest: Equatable {
        /// Absent, malformed or multi-range: serve the whole object.
        case whole
        case unsatisfiable
        /// Inclusive byte range.
        case bytes(Int64, Int64)
    }

    /// Parses a single `bytes=` range the way S3 does.
    static func parseRange(_ header: String, size: Int64) -> RangeRequest {
        let text = header.trimmingCharacters(in: .whitespaces)
        guard text.hasPrefix("bytes="), !text.contains(",") else { return .whole }
        let spec = text.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return .whole }
        let first = parts[0].trimmingCharacters(in: .whitespaces)
        let last = parts[1].trimmingCharacters(in: .whitespaces)
        if first.isEmpty {
            guard let suffix = Int64(last), suffix >= 0 else { return .whole }
            if suffix == 0 || size == 0 { return .unsatisfiable }
            return .bytes(max(0, size - suffix), size - 1)
        }
        guard let start = Int64(first), start >= 0 else { return .whole }
        if last.isEmpty {
            return start >= size ? .unsatisfiable : .bytes(start, size - 1)
        }
        guard let end = Int64(last), end >= start else { return .whole }
        if start >= size { return .unsatisfiable }
        return .bytes(start, min(end, size - 1))
    }

    static func etagList(_ header: String, contains etag: String) -> Bool {
        header.split(separator: ",").contains { item in
            let value = item.trimmingCharacters(in: .whitespaces)
            return value == "*" || value == etag || "\"\(value)\"" == etag
        }
    }
}
