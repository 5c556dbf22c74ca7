import Crypto
import Foundation

extension S3Service: HTTPBodyPlacing {
    /// UploadPart bodies go straight into their slot of the upload's
    /// assembly file (see ``ObjectStore/reserveSlot(uploadID:number:length:minimumSlot:)``),
    /// so CompleteMultipartUpload renames instead of copying. Decided from
    /// the request head alone: an unauthorised or refused body only ever
    /// fills a free slot, which is released when the request ends.
    public func placement(for head: HTTPRequest, length: Int64) -> HTTPBodyPlacement? {
        guard head.method == "PUT", head.headers["x-amz-copy-source"] == nil, length <= Self.maxPartSize,
              let uploadID = head.query("uploadId"), let number = Int(head.query("partNumber") ?? ""),
              (1...Self.maxParts).contains(number) else { return nil }
        return store.reserveSlot(uploadID: uploadID, number: number, length: length, minimumSlot: Self.minPartSize)
    }

    func createUpload(_ context: S3RequestContext, _ bucket: String, _ key: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        try checkStorageClass(context.request)
        let upload = try store.createUpload(bucket: bucket, key: key,
                                            contentType: context.request.headers["Content-Type"] ?? "binary/octet-stream",
                                            metadata: context.storedMetadata)
        var xml = S3XMLWriter()
        xml.open("InitiateMultipartUploadResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", upload.uploadID)
        xml.close("InitiateMultipartUploadResult")
        return Self.xmlResponse(xml)
    }

    func uploadPart(_ context: S3RequestContext, _ bucket: String, _ key: String, _ uploadID: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        let request = context.request
        let numberText = request.query("partNumber") ?? ""
        guard let number = Int(numberText), (1...Self.maxParts).contains(number) else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Self.maxParts), inclusive",
                                          name: "partNumber", value: numberText)
        }
        guard let upload = store.upload(uploadID), upload.record.bucket == bucket, upload.record.key == key else {
            throw S3Error.noSuchUpload(uploadID)
        }
        guard request.body.count <= Self.maxPartSize else {
            throw S3Error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                          details: [("ProposedSize", String(request.body.count)), ("MaxSizeAllowed", String(Self.maxPartSize))])
        }
        try context.checkContentMD5(required: false)
        let md5 = Hex.encode(try context.checkPayload().md5)
        var placed: PartRecord?
        if case let .placed(placement, size) = request.body {
            placed = try store.putPart(uploadID: uploadID, number: number, placed: placement, size: size, md5: md5)
        }
        let part = try placed ?? store.putPart(uploadID: uploadID, number: number, from: try context.bodyFile(in: store),
                                                size: request.body.count, md5: md5)
        var headers = HTTPHeaders()
        headers.set("ETag", "\"\(part.etag)\"")
        return HTTPResponse(status: 200, headers: headers)
    }

    /// CompleteMultipartUpload with Scaleway's rules: parts listed in
    /// ascending order (InvalidPartOrder), each uploaded with the ETag given
    /// (InvalidPart), every part but the last at least 5 MiB (EntityTooSmall),
    /// at most 1000 parts.
    func completeUpload(_ context: S3RequestContext, _ bucket: String, _ key: String, _ uploadID: String) throws -> HTTPResponse {
        try context.checkPayload()
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        guard let upload = store.upload(uploadID), upload.record.bucket == bucket, upload.record.key == key else {
            throw S3Error.noSuchUpload(uploadID)
        }
        guard let root = S3XMLElement.parse(try context.request.body.readAll()), root.name == "CompleteMultipartUpload"
        else { throw S3Error.malformedXML() }
        let requested = root.children(named: "Part")
        guard !requested.isEmpty else {
            throw S3Error.malformedXML()
        }
        guard requested.count <= Self.maxParts else {
            throw S3Error.invalidArgument("Part number must be an integer between 1 and \(Self.maxParts), inclusive")
        }
        let uploaded = Dictionary(uniqueKeysWithValues: upload.parts.map { ($0.number, $0) })
        var chosen: [PartRecord] = []
        var previous = 0
        for part in requested {
            guard let numberText = part.child(named: "PartNumber")?.text.trimmingCharacters(in: .whitespacesAndNewlines),
                  let number = Int(numberText),
                  let etagText = part.child(named: "ETag")?.text.trimmingCharacters(in: .whitespacesAndNewlines)
            else { throw S3Error.malformedXML() }
            guard number > previous else {
                throw S3Error(400, "InvalidPartOrder", "The list of parts was not in ascending order. The parts list must be specified in order by part number.",
                              details: [("UploadId", uploadID)])
            }
            previous = number
            let etag = etagText.replacingOccurrences(of: "\"", with: "").lowercased()
            guard let stored = uploaded[number], stored.etag == etag else {
                throw S3Error(400, "InvalidPart", "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.",
                              details: [("UploadId", uploadID), ("PartNumber", String(number)), ("ETag", etagText)])
            }
            chosen.append(stored)
        }
        for part in chosen.dropLast() where part.size < Self.minPartSize {
            throw S3Error(400, "EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size",
                          details: [("UploadId", uploadID), ("PartNumber", String(part.number)),
                                    ("ProposedSize", String(part.size)), ("MinSizeAllowed", String(Self.minPartSize))])
        }
        let record = try store.completeUpload(uploadID, parts: chosen)
        var xml = S3XMLWriter()
        xml.open("CompleteMultipartUploadResult", namespace: true)
        let host = context.request.headers["Host"] ?? "s3.\(region).scw.cloud"
        xml.element("Location", "http://\(host)/\(bucket)/\(SigV4Verifier.uriEncode(key).replacingOccurrences(of: "%2F", with: "/"))")
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("ETag", "\"\(record.etag)\"")
        xml.close("CompleteMultipartUploadResult")
        return Self.xmlResponse(xml)
    }

    func abortUpload(_ context: S3RequestContext, _ bucket: String, _ key: String, _ uploadID: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsWrite")
        guard let upload = store.upload(uploadID), upload.record.bucket == bucket, upload.record.key == key else {
            throw S3Error.noSuchUpload(uploadID)
        }
        try store.abortUpload(uploadID)
        return HTTPResponse(status: 204)
    }

    func listParts(_ context: S3RequestContext, _ bucket: String, _ key: String, _ uploadID: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsRead")
        guard let upload = store.upload(uploadID), upload.record.bucket == bucket, upload.record.key == key else {
            throw S3Error.noSuchUpload(uploadID)
        }
        let request = context.request
        var maxParts = 1000
        if let text = request.query("max-parts") {
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("Provided max-parts not an integer or within integer range",
                                              name: "max-parts", value: text)
            }
            maxParts = min(value, 1000)
        }
        let marker = Int(request.query("part-number-marker") ?? "") ?? 0
        let remaining = upload.parts.filter { $0.number > marker }
        let page = Array(remaining.prefix(maxParts))
        let truncated = remaining.count > page.count
        var xml = S3XMLWriter()
        xml.open("ListPartsResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("Key", key)
        xml.element("UploadId", uploadID)
        Self.writeOwner(&xml, element: "Initiator", projectID: context.auth.projectID)
        Self.writeOwner(&xml, projectID: context.auth.projectID)
        xml.element("StorageClass", "STANDARD")
        xml.element("PartNumberMarker", marker)
        xml.element("NextPartNumberMarker", page.last?.number ?? marker)
        xml.element("MaxParts", maxParts)
        xml.element("IsTruncated", truncated)
        for part in page {
            xml.open("Part")
            xml.element("PartNumber", part.number)
            xml.element("LastModified", S3Dates.iso8601(part.lastModified))
            xml.element("ETag", "\"\(part.etag)\"")
            xml.element("Size", part.size)
            xml.close("Part")
        }
        xml.close("ListPartsResult")
        return Self.xmlResponse(xml)
    }

    func listUploads(_ context: S3RequestContext, _ bucket: String) throws -> HTTPResponse {
        _ = try authorize(context, bucket: bucket, permission: "ObjectStorageObjectsRead")
        let request = context.request
        let prefix = request.query("prefix") ?? ""
        var maxUploads = 1000
        if let text = request.query("max-uploads") {
            guard let value = Int(text), value >= 0 else {
                throw S3Error.invalidArgument("Provided max-uploads not an integer or within integer range",
                                              name: "max-uploads", value: text)
            }
            maxUploads = min(value, 1000)
        }
        let keyMarker = request.query("key-marker") ?? ""
        let uploadIDMarker = request.query("upload-id-marker") ?? ""
        let all = store.uploads(bucket: bucket).filter { upload in
            guard upload.key.hasPrefix(prefix) else { return false }
            if keyMarker.isEmpty { return true }
            if upload.key == keyMarker { return !uploadIDMarker.isEmpty && upload.uploadID > uploadIDMarker }
            return upload.key > keyMarker
        }
        let page = Array(all.prefix(maxUploads))
        let truncated = all.count > page.count
        var xml = S3XMLWriter()
        xml.open("ListMultipartUploadsResult", namespace: true)
        xml.element("Bucket", bucket)
        xml.element("KeyMarker", keyMarker)
        xml.element("UploadIdMarker", uploadIDMarker)
        xml.element("NextKeyMarker", page.last?.key ?? "")
        xml.element("NextUploadIdMarker", page.last?.uploadID ?? "")
        xml.element("Prefix", prefix)
        xml.element("MaxUploads", maxUploads)
        xml.element("IsTruncated", truncated)
        for upload in page {
            xml.open("Upload")
            xml.element("Key", upload.key)
            xml.element("UploadId", upload.uploadID)
            Self.writeOwner(&xml, element: "Initiator", projectID: context.auth.projectID)
            Self.writeOwner(&xml, projectID: context.auth.projectID)
            xml.element("StorageClass", "STANDARD")
            xml.element("Initiated", S3Dates.iso8601(upload.initiated))
            xml.close("Upload")
        }
        xml.close("ListMultipartUploadsResult")
        return Self.xmlResponse(xml)
    }
}
