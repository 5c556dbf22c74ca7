import Foundation
import Testing
@testable import ScalewaySimulator

@Suite struct BlockVolumeAPITests {
    @Test func fromEmptyCreatesAnSBSVolumeThatBecomesAvailable() throws {
        let h = try APIHarness(durations: SimDurations.fast.scaled(by: 50)) // creating lasts ~0.1 s
        let created = h.call("POST", h.block("/volumes"), ["name": "v", "perf_iops": 15000, "project_id": h.projectID,
                                                           "tags": ["a"], "from_empty": ["size": 3_000_000_000]])
        #expect(created.status == 200)
        #expect(created["status"] as? String == "creating")
        #expect(created["type"] as? String == "sbs_15k")
        #expect((created["specs"] as? [String: Any])?["perf_iops"] as? Int == 15000)
        #expect((created["specs"] as? [String: Any])?["class"] as? String == "sbs")
        #expect(created["kms_key_id"] is NSNull && created["last_detached_at"] is NSNull && created["parent_snapshot_id"] is NSNull)
        #expect((created["created_at"] as? String)?.hasSuffix("Z") == true)
        let id = created["id"] as? String ?? ""
        // Busy while creating.
        let busy = h.call("DELETE", h.block("/volumes/\(id)"))
        if busy.status != 204 { #expect(busy.status == 409 && busy["type"] as? String == "transient_state") }
        try h.waitState(h.block("/volumes/\(id)"), nil, "status", "available")
        #expect(h.call("GET", "/_sim/volumes/\(id)/digest")["size"] as? Int == 3_000_000_000)
        #expect(h.call("DELETE", h.block("/volumes/\(id)")).status == 204)
        #expect(h.call("GET", h.block("/volumes/\(id)")).status == 404)
    }

    @Test func argumentErrorsAreInvalidArguments() throws {
        let h = try APIHarness()
        for body: [String: Any] in [
            ["name": "small", "perf_iops": 5000, "from_empty": ["size": 500_000_000]],
            ["name": "odd", "perf_iops": 5000, "from_empty": ["size": 1_500_000_001]],
            ["name": "iops", "perf_iops": 7000, "from_empty": ["size": 1_000_000_000]],
            ["name": "both", "perf_iops": 5000],
        ] {
            let answer = h.call("POST", h.block("/volumes"), body)
            #expect(answer.status == 400, "\(body)")
            #expect(answer["type"] as? String == "invalid_arguments")
            let detail = (answer["details"] as? [[String: Any]])?.first
            #expect(detail?["argument_name"] is String && detail?["reason"] is String && detail?["help_message"] is String)
        }
        let missing = h.call("POST", h.block("/volumes"), ["name": "x", "perf_iops": 5000,
                                                           "from_snapshot": ["snapshot_id": UUID().uuidString.lowercased()]])
        #expect(missing.status == 404)
        #expect(missing["resource"] as? String == "snapshot")
    }

    @Test func attachedVolumesCannotBeDeletedAndListsPage() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let sbs = h.volumeID(web, "1")
        let refused = h.call("DELETE", h.block("/volumes/\(sbs)"))
        #expect(refused.status == 412)
        #expect(refused["type"] as? String == "precondition_failed")
        #expect(refused["precondition"] as? String == "resource_still_in_use")
        let page = h.call("GET", h.block("/volumes?page_size=2&page=1"))
        #expect(page["total_count"] as? Int == 3)
        #expect((page["volumes"] as? [Any])?.count == 2)
        let second = h.call("GET", h.block("/volumes?page_size=2&page=2"))
        #expect((second["volumes"] as? [Any])?.count == 1)
        let byServer = h.call("GET", h.block("/volumes?product_resource_id=\(web["id"] as? String ?? "")"))
        #expect(byServer["total_count"] as? Int == 2)
        #expect(h.call("GET", h.block("/volumes?page_size=1000")).status == 400)
        // PATCH grows the volume and renames it.
        let patched = h.call("PATCH", h.block("/volumes/\(sbs)"), ["name": "renamed", "size": 2_000_000_000])
        #expect(patched.status == 200)
        #expect(patched["size"] as? Int == 2_000_000_000 && patched["name"] as? String == "renamed")
        #expect(h.call("PATCH", h.block("/volumes/\(sbs)"), ["size": 1_000_000_000]).status == 400)
    }

    @Test func blockSnapshotListsAndDeletes() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let sbs = h.volumeID(web, "1")
        var ids: [String] = []
        for i in 0..<3 {
            let s = h.call("POST", h.block("/snapshots"), ["volume_id": sbs, "name": "s\(i)", "project_id": h.projectID])
            ids.append(s["id"] as? String ?? "")
        }
        for id in ids { try h.waitState(h.block("/snapshots/\(id)"), nil, "status", "available") }
        let list = h.call("GET", h.block("/snapshots?volume_id=\(sbs)&page_size=2"))
        #expect(list["total_count"] as? Int == 3)
        #expect((list["snapshots"] as? [Any])?.count == 2)
        #expect(h.call("DELETE", h.block("/snapshots/\(ids[0])")).status == 204)
        let gone = h.call("GET", h.block("/snapshots/\(ids[0])"))
        #expect(gone.status == 404)
        #expect(gone.json as NSDictionary == ["message": "resource is not found", "resource": "snapshot",
                                              "resource_id": ids[0], "type": "not_found"] as NSDictionary)
        // The snapshot's content equals the volume's.
        #expect(h.call("GET", "/_sim/snapshots/\(ids[1])/digest")["sha256"] as? String == h.digest(volume: sbs))
    }
}

@Suite struct InstanceVolumeAPITests {
    @Test func createGetListDelete() throws {
        let h = try APIHarness()
        let created = h.call("POST", h.instance("/volumes"), ["name": "scratchpad", "volume_type": "l_ssd",
                                                              "size": 5_000_000_000, "project": h.projectID, "tags": ["t"]])
        #expect(created.status == 201)
        let volume = created["volume"] as? [String: Any] ?? [:]
        #expect(volume["state"] as? String == "available")
        #expect(volume["server"] is NSNull && volume["export_uri"] is NSNull)
        #expect(volume["volume_type"] as? String == "l_ssd")
        let id = volume["id"] as? String ?? ""
        let list = h.call("GET", h.instance("/volumes?name=scratch"))
        #expect((list["volumes"] as? [Any])?.count == 1)
        #expect(list.headers["X-Total-Count"] == "1")
        #expect(h.call("GET", h.instance("/volumes?volume_type=sbs_5k")).headers["X-Total-Count"] == "0")
        #expect(h.call("POST", h.instance("/volumes"), ["name": "sbs", "volume_type": "sbs_5k", "size": 1_000_000_000]).status == 400)
        #expect(h.call("POST", h.instance("/volumes"), ["name": "none", "volume_type": "l_ssd"]).status == 400)
        // Attached l_ssd cannot be deleted.
        let root = h.volumeID(h.server(named: "web-01"), "0")
        #expect(h.call("DELETE", h.instance("/volumes/\(root)")).status == 412)
        #expect(h.call("DELETE", h.instance("/volumes/\(id)")).status == 204)
        #expect(h.call("GET", h.instance("/volumes/\(id)")).status == 404)
    }

    @Test func snapshottingVolumeIsBusy() throws {
        let h = try APIHarness(durations: .realistic) // a 100 s instance snapshot, released below
        let db = h.call("POST", h.instance("/volumes"), ["name": "busy", "volume_type": "l_ssd", "size": 1_000_000_000])
        let id = (db["volume"] as? [String: Any])?["id"] as? String ?? ""
        let snap = h.call("POST", h.instance("/snapshots"), ["name": "s", "volume_id": id])
        #expect(snap.status == 201)
        let again = h.call("POST", h.instance("/snapshots"), ["name": "s2", "volume_id": id])
        #expect(again.status == 409)
        #expect(again["type"] as? String == "transient_state")
        #expect(again["resource"] as? String == "instance_volume")
        #expect(again["current_state"] as? String == "snapshotting")
        let snapID = (snap["snapshot"] as? [String: Any])?["id"] as? String ?? ""
        let deleting = h.call("DELETE", h.instance("/snapshots/\(snapID)"))
        #expect(deleting.status == 409)
        // SBS volume ids cannot be snapshotted through the Instance API.
        let sbs = h.volumeID(h.server(named: "web-01"), "1")
        let wrongAPI = h.call("POST", h.instance("/snapshots"), ["name": "x", "volume_id": sbs])
        #expect(wrongAPI.status == 404)
        #expect(wrongAPI["resource"] as? String == "instance_volume")
        // Speed it up through the control API: the in-flight snapshot follows.
        #expect(h.call("POST", "/_sim/durations", ["preset": "fast"]).status == 200)
        try h.waitState(h.instance("/snapshots/\(snapID)"), "snapshot", "state", "available", timeout: 5)
    }
}
