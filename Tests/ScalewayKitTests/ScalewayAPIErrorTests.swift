import Testing
@testable import ScalewayKit

/// Every error shape of the reference decodes into one typed error with an actionable message.
@Suite struct ScalewayAPIErrorTests {
    func decode(_ status: Int, _ json: String) -> ScalewayAPIError {
        ScalewayAPIError.decode(status: status, body: Array(json.utf8), requestID: "req-1", operation: "GET /x")
    }

    @Test func invalidArguments() {
        let e = decode(400, #"{"type":"invalid_arguments","message":"invalid argument(s)","details":[{"argument_name":"volume_id","reason":"constraint","help_message":"must be a UUID"}]}"#)
        #expect(e.kind == .invalidArguments && e.httpStatus == 400 && e.requestID == "req-1")
        #expect(e.details.first?.argumentName == "volume_id" && e.details.first?.helpMessage == "must be a UUID")
        #expect(e.description.contains("volume_id: constraint: must be a UUID"))
    }

    @Test func olderInstanceInvalidRequestWithFields() {
        let e = decode(400, #"{"type":"invalid_request_error","message":"Validation Error","fields":{"volumes.0.size":["must be at least 1 GB"]},"resource":"instance_volume"}"#)
        #expect(e.kind == .invalidRequest && e.fields["volumes.0.size"] == ["must be at least 1 GB"] && e.resource == "instance_volume")
        #expect(e.description.contains("volumes.0.size: must be at least 1 GB"))
        let quota = decode(403, #"{"type":"invalid_request_error","message":"Quota exceeded for volumes"}"#)
        #expect(quota.description.contains("quota"))
    }

    @Test func deniedAuthenticationReasons() {
        let expired = decode(401, #"{"type":"denied_authentication","method":"api_key","reason":"expired","message":"authentication is denied"}"#)
        #expect(expired.kind == .deniedAuthentication && expired.reason == "expired" && expired.method == "api_key")
        #expect(expired.description.contains("expired") && expired.description.contains("create a new API key"))
        let invalid = decode(401, #"{"type":"denied_authentication","method":"api_key","reason":"invalid_argument"}"#)
        #expect(invalid.description.contains("check secret_key"))
        let missing = decode(401, #"{"type":"denied_authentication","method":"api_key","reason":"not_found"}"#)
        #expect(missing.description.contains("does not exist"))
    }

    @Test func permissionsDeniedNamesResourceAndAction() {
        let e = decode(403, #"{"type":"permissions_denied","message":"insufficient permissions","details":[{"resource":"block_snapshot","action":"create"}]}"#)
        #expect(e.kind == .permissionsDenied && e.details.first?.resource == "block_snapshot" && e.details.first?.action == "create")
        #expect(e.description.contains("create on block_snapshot") && e.description.contains("BlockStorageFullAccess"))
    }

    @Test func quotasExceeded() {
        let e = decode(403, #"{"type":"quotas_exceeded","message":"quota(s) exceeded","details":[{"resource":"instance_snapshots","quota":10,"current":10}]}"#)
        #expect(e.kind == .quotasExceeded && e.details.first?.quota == 10 && e.details.first?.current == 10)
        #expect(e.description.contains("instance_snapshots 10/10"))
    }

    @Test func notFoundAndOlderUnknownResource() {
        let e = decode(404, #"{"type": "not_found", "message": "resource is not found", "resource": "instance_volume", "resource_id": "35670156-bc4e-4a61-90e1-ca1c14dee739"}"#)
        #expect(e.kind == .notFound && e.isNotFound && e.resource == "instance_volume" && e.resourceID == "35670156-bc4e-4a61-90e1-ca1c14dee739")
        let old = decode(404, #"{"type":"unknown_resource","message":"Volume 'c2872daf-b5cc-48c7-a493-5777cb288af3' not found"}"#)
        #expect(old.kind == .unknownResource && old.isNotFound)
        #expect(old.resourceID == "c2872daf-b5cc-48c7-a493-5777cb288af3" && old.resource == "volume")
    }

    @Test func transientStatePreconditionLockedOutOfStock() {
        let transient = decode(409, #"{"type":"transient_state","message":"resource is in a transient state","resource":"instance_server","resource_id":"s1","current_state":"starting"}"#)
        #expect(transient.kind == .transientState && transient.currentState == "starting" && transient.description.contains("busy (starting)"))
        let precondition = decode(412, #"{"type":"precondition_failed","message":"resource is still in use","precondition":"resource_still_in_use","help_message":"detach the volume first"}"#)
        #expect(precondition.kind == .preconditionFailed && precondition.precondition == "resource_still_in_use")
        #expect(precondition.description.contains("detach the volume first"))
        let locked = decode(423, #"{"type":"locked","message":"resource is locked","resource":"instance_server","resource_id":"s1"}"#)
        #expect(locked.kind == .locked && locked.description.contains("support"))
        let stock = decode(503, #"{"type":"out_of_stock","message":"out of stock","resource":"DEV1-S"}"#)
        #expect(stock.kind == .outOfStock && !stock.isServerError && stock.description.contains("another commercial type"))
    }

    @Test func realRateLimitHasEmptyBody() {
        let e = ScalewayAPIError.decode(status: 429, body: [], requestID: nil)
        #expect(e.kind == .rateLimited && e.isRateLimited && e.message == nil)
    }

    @Test func unreadableBodiesStillCarryStatus() {
        let e = decode(502, "<html>Bad Gateway</html>")
        #expect(e.kind == .serverError && e.isServerError && e.message == "<html>Bad Gateway</html>")
        #expect(e.description.contains("HTTP 502") && e.description.contains("req-1"))
    }

    @Test func everyKindHasAdvice() {
        let kinds: [ScalewayAPIError.Kind] = [.invalidArguments, .invalidRequest, .deniedAuthentication, .permissionsDenied,
            .quotasExceeded, .notFound, .unknownResource, .transientState, .preconditionFailed, .locked, .outOfStock,
            .rateLimited, .conflict, .serverError, .other("weird")]
        for kind in kinds {
            #expect(ScalewayAPIError(kind: kind, httpStatus: 400).advice.count > 20)
        }
    }
}

/// S3 XML errors.
@Suite struct S3ErrorTests {
    @Test func parsesXMLErrorDocument() {
        let xml = #"<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message><RequestId>tx123</RequestId><HostId>h1</HostId></Error>"#
        let e = S3Error.decode(head: HTTPResponseHead(status: 403, headers: [:]), body: Array(xml.utf8), bucket: "b", key: "k", operation: "GetObject b/k")
        #expect(e.code == "SignatureDoesNotMatch" && e.requestID == "tx123" && e.hostID == "h1" && e.httpStatus == 403)
        #expect(e.description.contains("check secret_key"))
    }

    @Test func bodilessAnswersGetCodesFromStatus() {
        let head = HTTPResponseHead(status: 404, headers: ["x-amz-request-id": "tx9"])
        let e = S3Error.decode(head: head, body: [], bucket: "b", key: "k", operation: "HeadObject b/k")
        #expect(e.code == "NoSuchKey" && e.isNotFound && e.requestID == "tx9")
        let bucket = S3Error.decode(head: head, body: [], bucket: "b", key: nil, operation: "HeadBucket b")
        #expect(bucket.code == "NoSuchBucket")
        let slow = S3Error.decode(head: HTTPResponseHead(status: 503, headers: [:]), body: [], bucket: "b", key: nil, operation: "x")
        #expect(slow.isTransient && slow.provesNotProcessed)
    }
}
