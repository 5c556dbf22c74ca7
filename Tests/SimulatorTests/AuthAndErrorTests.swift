import Foundation
import Testing
@testable import ScalewaySimulator

@Suite struct AuthAndErrorTests {
    @Test func unknownMissingAndExpiredKeysAreDenied() throws {
        let h = try APIHarness()
        let missing = h.call("GET", h.instance("/servers"), token: "")
        #expect(missing.status == 401)
        #expect(missing["type"] as? String == "denied_authentication")
        #expect(missing["reason"] as? String == "invalid_argument")
        let unknown = h.call("GET", h.instance("/servers"), token: UUID().uuidString.lowercased())
        #expect(unknown.status == 401)
        #expect(unknown["reason"] as? String == "not_found")
        let expired = h.call("GET", h.instance("/servers"), key: h.keys[2])
        #expect(expired.status == 401)
        #expect(expired["reason"] as? String == "expired")
        #expect(expired["method"] as? String == "api_key")
    }

    @Test func keyWithoutBlockStorageIsRefusedOnBlockOnly() throws {
        let h = try APIHarness()
        let noBlock = h.keys[1]
        #expect(!noBlock.permissionSets.contains("BlockStorageFullAccess"))
        #expect(h.call("GET", h.instance("/servers"), key: noBlock).status == 200)
        let denied = h.call("GET", h.block("/volumes"), key: noBlock)
        #expect(denied.status == 403)
        #expect(denied["type"] as? String == "permissions_denied")
        #expect(denied["message"] as? String == "insufficient permissions")
        let details = denied["details"] as? [[String: Any]]
        #expect(details?.first?["resource"] as? String == "block_volume")
        #expect(details?.first?["action"] as? String == "read")
        let create = h.call("POST", h.block("/snapshots"), ["volume_id": "x"], key: noBlock)
        #expect((create["details"] as? [[String: Any]])?.first?["action"] as? String == "create")
    }

    @Test func notFoundShapesNameTheResource() throws {
        let h = try APIHarness()
        let id = UUID().uuidString.lowercased()
        for (path, resource) in [(h.instance("/servers/\(id)"), "instance_server"),
                                 (h.instance("/volumes/\(id)"), "instance_volume"),
                                 (h.instance("/snapshots/\(id)"), "instance_snapshot"),
                                 (h.block("/volumes/\(id)"), "volume"),
                                 (h.block("/snapshots/\(id)", version: "v1alpha1"), "snapshot")] {
            let answer = h.call("GET", path)
            #expect(answer.status == 404)
            #expect(answer.json as NSDictionary == ["type": "not_found", "message": "resource is not found",
                                                     "resource": resource, "resource_id": id] as NSDictionary)
        }
    }

    @Test func sbsIdsAre404OnTheInstanceAPIAndLocalIdsOnBlock() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let local = h.volumeID(web, "0"), sbs = h.volumeID(web, "1")
        let onInstance = h.call("GET", h.instance("/volumes/\(sbs)"))
        #expect(onInstance.status == 404)
        #expect(onInstance["resource"] as? String == "instance_volume")
        #expect(h.call("GET", h.block("/volumes/\(local)")).status == 404)
        #expect(h.call("GET", h.instance("/volumes/\(local)")).status == 200)
        let block = h.call("GET", h.block("/volumes/\(sbs)"))
        #expect(block.status == 200)
        #expect(block["status"] as? String == "in_use")
        let refs = block["references"] as? [[String: Any]]
        #expect(refs?.first?["product_resource_id"] as? String == web["id"] as? String)
        #expect(refs?.first?["status"] as? String == "attached")
        #expect(refs?.first?["type"] as? String == "exclusive")
    }

    @Test func rateLimitFaultAnswersAnEmpty429() throws {
        let h = try APIHarness()
        let error = APIError.rateLimited.response()
        #expect(error.status == 429)
        #expect(error.headers["X-Envoy-Ratelimited"] == "true")
        if case .bytes = error.body { Issue.record("a 429 has no body") }
        _ = h
    }

    @Test func invalidZoneAndBodyAreInvalidArguments() throws {
        let h = try APIHarness()
        let zone = h.call("GET", "/instance/v1/zones/fr-par-9/servers")
        #expect(zone.status == 400)
        #expect(zone["type"] as? String == "invalid_arguments")
        var headers = HTTPHeaders()
        headers.add("X-Auth-Token", h.fullKey.secretKey)
        let bad = h.core.api.handle(HTTPRequest(method: "POST", rawPath: h.instance("/snapshots"), rawQuery: "",
                                                headers: headers, body: .bytes(Array("{nope".utf8))))
        #expect(bad.status == 400)
        let missing = h.call("POST", h.instance("/snapshots"), ["name": "x"])
        #expect(missing.status == 400)
        #expect(missing["type"] as? String == "invalid_request_error")
        #expect((missing["fields"] as? [String: Any])?["volume_id"] != nil)
    }

    @Test func quotasExceeded() throws {
        var seed = Seed.tiny
        seed.quotas = Quotas(servers: 2, volumes: 200, snapshots: 200)
        let h = try APIHarness(seed: seed)
        let answer = h.call("POST", h.instance("/servers"), [
            "name": "third", "commercial_type": "DEV1-S",
            "volumes": ["0": ["volume_type": "l_ssd", "size": 1_000_000_000]],
        ])
        #expect(answer.status == 403)
        #expect(answer["type"] as? String == "quotas_exceeded")
        let detail = (answer["details"] as? [[String: Any]])?.first
        #expect(detail?["resource"] as? String == "servers")
        #expect(detail?["quota"] as? Int == 2)
        #expect(detail?["current"] as? Int == 2)
    }
}
