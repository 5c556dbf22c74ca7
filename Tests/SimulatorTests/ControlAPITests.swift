import Crypto
import Foundation
import Testing
@testable import ScalewaySimulator

@Suite struct ControlAPITests {
    @Test func digestAndContentMatchTheSeededRegions() throws {
        let h = try APIHarness()
        let root = h.volumeID(h.server(named: "web-01"), "0")
        let digest = h.call("GET", "/_sim/volumes/\(root)/digest", token: "")
        #expect(digest.status == 200)
        #expect(digest["size"] as? Int == 1_000_000_000)
        // Rebuild the expected bytes independently: the tiny seed's regions on zeros.
        let expected = h.directory + "/expected.raw"
        try SparseFile.create(at: expected, size: 1_000_000_000)
        let regions = h.seed.servers[0].volumes["0"]?.content ?? []
        try ContentPattern.write(regions, to: expected)
        #expect(digest["sha256"] as? String == (try SparseFile.sha256(of: expected).digest))
        // Sparse on disk.
        let path = h.core.store.volumePath(root)
        #expect(SparseFile.allocatedBytes(of: path) < 16 << 20)
        #expect(try SparseFile.dataExtents(of: path).count >= 2)
        // The content is served from the sparse file itself (sendfile), whole.
        let content = h.core.api.handle(HTTPRequest(method: "GET", rawPath: "/_sim/volumes/\(root)/content", rawQuery: "",
                                                    headers: HTTPHeaders(), body: .none))
        #expect(content.status == 200)
        guard case let .file(servedPath, offset, length) = content.body else {
            Issue.record("content must be a file body")
            return
        }
        #expect(servedPath == path && offset == 0 && length == 1_000_000_000)
        #expect(h.call("GET", "/_sim/volumes/nope/digest").status == 404)
    }

    @Test func onlyLoopbackClients() throws {
        let h = try APIHarness()
        #expect(h.call("GET", "/_sim/state", remote: "10.1.2.3").status == 403)
        #expect(h.call("GET", "/_sim/state", remote: "127.0.0.1").status == 200)
    }

    @Test func stateListsEverythingWithoutSecrets() throws {
        let h = try APIHarness()
        let state = h.call("GET", "/_sim/state")
        #expect((state["servers"] as? [Any])?.count == 2)
        #expect((state["volumes"] as? [Any])?.count == 4)
        #expect((state["snapshots"] as? [Any])?.isEmpty == true)
        #expect((state["buckets"] as? [[String: Any]])?.first?["name"] as? String == "plakar-staging")
        #expect(state["objects"] is [Any] && state["multipart_uploads"] is [Any])
        let text = String(decoding: state.bytes, as: UTF8.self)
        for key in h.keys { #expect(!text.contains(key.secretKey)) }
    }

    /// A state saved before the SBS attach/detach figures existed still loads
    /// (they take their realistic values), the other figures unchanged.
    @Test func savedDurationsWithoutTheAttachFiguresStillLoad() throws {
        var object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(SimDurations.fast)) as? [String: Any])
        #expect(object["block_volume_attach"] != nil && object["block_volume_detach"] != nil)
        object["block_volume_attach"] = nil
        object["block_volume_detach"] = nil
        let decoded = try JSONDecoder().decode(SimDurations.self, from: JSONSerialization.data(withJSONObject: object))
        #expect(decoded.blockVolumeAttach == SimDurations.realistic.blockVolumeAttach)
        #expect(decoded.blockVolumeDetach == SimDurations.realistic.blockVolumeDetach)
        #expect(decoded.instanceSnapshot == SimDurations.fast.instanceSnapshot)
        #expect(decoded.blockVolumeCreate == SimDurations.fast.blockVolumeCreate)
    }

    @Test func durationsPresetFactorAndFields() throws {
        let h = try APIHarness()
        let realistic = h.call("POST", "/_sim/durations", ["preset": "realistic"])
        #expect(realistic["instance_export"] as? Double == 45)
        let scaled = h.call("POST", "/_sim/durations", ["factor": 0.5])
        #expect(scaled["block_export"] as? Double == 43.5)
        let one = h.call("PUT", "/_sim/durations", ["instance_snapshot": 2.0])
        #expect(one["instance_snapshot"] as? Double == 2 && one["block_export"] as? Double == 43.5)
        #expect(h.call("GET", "/_sim/durations")["instance_snapshot"] as? Double == 2)
        #expect(h.call("POST", "/_sim/durations", ["preset": "warp"]).status == 400)
        #expect(h.call("POST", "/_sim/durations", ["instance_export": -1]).status == 400)
    }

    @Test func faultRulesRoundTrip() throws {
        let h = try APIHarness()
        let installed = h.call("POST", "/_sim/faults", [["service": "api", "action": "async_error", "path_contains": "/export"],
                                                        ["service": "s3", "action": "status", "status": 503, "count": NSNull()]])
        #expect(installed.status == 200)
        let rules = h.call("GET", "/_sim/faults")["faults"] as? [[String: Any]] ?? []
        #expect(rules.count == 2)
        #expect(rules.allSatisfy { $0["id"] is String && $0["fired"] as? Int == 0 })
        #expect(rules[0]["pathContains"] as? String == "/export" && rules[0]["count"] as? Int == 1 && rules[0]["skip"] as? Int == 0)
        #expect(rules[1]["count"] == nil || rules[1]["count"] is NSNull)
        #expect(h.call("POST", "/_sim/faults", ["action": "explode"]).status == 400)
        #expect(h.call("DELETE", "/_sim/faults").status == 204)
        #expect((h.call("GET", "/_sim/faults")["faults"] as? [Any])?.isEmpty == true)
    }

    @Test func seedFaultsAreInstalledAtStart() throws {
        var seed = Seed.tiny
        seed.faults = [FaultRule(id: "seeded", service: "api", pathContains: "/snapshots", action: .asyncError, count: 1)]
        let h = try APIHarness(seed: seed)
        #expect(h.core.faults.rules.map(\.id) == ["seeded"])
        try h.restart()
        #expect(h.core.faults.rules.map(\.id) == ["seeded"])
    }
}
