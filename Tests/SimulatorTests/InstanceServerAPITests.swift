import Foundation
import Testing
@testable import ScalewaySimulator

@Suite struct InstanceServerAPITests {
    @Test func listFiltersAndPaginates() throws {
        let h = try APIHarness()
        for i in 0..<3 {
            let created = h.call("POST", h.instance("/servers"), [
                "name": "web-1\(i)", "commercial_type": "DEV1-S", "tags": ["batch"],
                "volumes": ["0": ["volume_type": "l_ssd", "size": 1_000_000_000]],
            ])
            #expect(created.status == 201)
            #expect(created.headers["Location"]?.hasSuffix("/servers/\((created["server"] as? [String: Any])?["id"] as? String ?? "")") == true)
        }
        // `name` is a substring match: web-01 and web-10..12.
        let byName = h.call("GET", h.instance("/servers?name=web-1"))
        #expect((byName["servers"] as? [Any])?.count == 3)
        let all = h.call("GET", h.instance("/servers?name=web"))
        #expect(all.headers["X-Total-Count"] == "4")
        let tagged = h.call("GET", h.instance("/servers?tags=batch"))
        #expect((tagged["servers"] as? [Any])?.count == 3)
        let page = h.call("GET", h.instance("/servers?per_page=2&page=1"))
        #expect((page["servers"] as? [Any])?.count == 2)
        #expect(page.headers["X-Total-Count"] == "5")
        let link = page.headers["Link"] ?? ""
        #expect(link.contains("rel=\"next\""))
        #expect(link.contains("page=2"))
        #expect(link.contains("rel=\"last\""))
        let last = h.call("GET", h.instance("/servers?per_page=2&page=3"))
        #expect((last["servers"] as? [Any])?.count == 1)
        #expect(last.headers["Link"]?.contains("rel=\"next\"") == false)
        #expect(h.call("GET", h.instance("/servers?per_page=101")).status == 400)
        let other = h.call("GET", h.instance("/servers?project=\(UUID().uuidString.lowercased())"))
        #expect((other["servers"] as? [Any])?.isEmpty == true)
    }

    @Test func serverShapeMatchesTheRecordings() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        for key in ["id", "name", "hostname", "organization", "project", "tags", "commercial_type", "state",
                    "state_detail", "allowed_actions", "arch", "boot_type", "image", "volumes", "public_ip",
                    "public_ips", "private_ip", "private_nics", "mac_address", "routed_ip_enabled",
                    "dynamic_ip_required", "enable_ipv6", "ipv6", "security_group", "placement_group", "protected",
                    "location", "maintenances", "filesystems", "end_of_service", "creation_date",
                    "modification_date", "zone"] {
            #expect(web[key] != nil, "server lacks \(key)")
        }
        #expect(web["state"] as? String == "running")
        #expect(web["allowed_actions"] as? [String] == ["poweroff", "terminate", "reboot", "stop_in_place", "backup"])
        let volumes = web["volumes"] as? [String: [String: Any]] ?? [:]
        #expect(volumes["0"]?["volume_type"] as? String == "l_ssd")
        #expect((volumes["0"]?["server"] as? [String: Any])?["id"] as? String == web["id"] as? String)
        #expect(volumes["0"]?["size"] as? Int == 1_000_000_000)
        // SBS entries are minimal.
        #expect(Set(volumes["1"]?.keys.map { $0 } ?? []) == ["boot", "volume_type", "id", "state", "zone"])
        #expect(volumes["1"]?["volume_type"] as? String == "sbs_volume")
        let date = web["creation_date"] as? String ?? ""
        #expect(date.hasSuffix("+00:00") && date.count == "2026-08-17T09:36:33.387491+00:00".count)
    }

    @Test func createWithTheThreeRootVolumeTemplates() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let local = h.volumeID(web, "0")
        // A snapshot of web-01's root to create from.
        let snap = h.call("POST", h.instance("/snapshots"), ["name": "root-snap", "volume_id": local, "project": h.projectID])
        #expect(snap.status == 201)
        let snapID = (snap["snapshot"] as? [String: Any])?["id"] as? String ?? ""
        try h.waitState(h.instance("/snapshots/\(snapID)"), "snapshot", "state", "available")

        // 1. base_snapshot template.
        let fromSnapshot = h.call("POST", h.instance("/servers"), [
            "name": "restored", "commercial_type": "DEV1-S", "project": h.projectID,
            "volumes": ["0": ["name": "restored-root", "volume_type": "l_ssd", "base_snapshot": snapID]],
        ])
        #expect(fromSnapshot.status == 201)
        let restored = fromSnapshot["server"] as? [String: Any] ?? [:]
        #expect(restored["state"] as? String == "stopped")
        #expect(restored["allowed_actions"] as? [String] == ["poweron", "backup"])
        let restoredRoot = h.volumeID(restored, "0")
        #expect(h.digest(volume: restoredRoot) == h.digest(volume: local))

        // 2. an existing l_ssd volume.
        let volume = h.call("POST", h.instance("/volumes"), ["name": "spare", "volume_type": "l_ssd",
                                                              "size": 2_000_000_000, "project": h.projectID])
        #expect(volume.status == 201)
        let spareID = (volume["volume"] as? [String: Any])?["id"] as? String ?? ""
        let withLocal = h.call("POST", h.instance("/servers"), [
            "name": "with-local", "commercial_type": "DEV1-S",
            "volumes": ["0": ["id": spareID, "boot": false, "name": "spare"]],
        ])
        #expect(withLocal.status == 201)
        #expect(h.volumeID(withLocal["server"] as? [String: Any] ?? [:], "0") == spareID)

        // 3. an existing SBS volume.
        let sbs = h.call("POST", h.block("/volumes"), ["name": "boot", "perf_iops": 5000, "project_id": h.projectID,
                                                        "from_empty": ["size": 1_000_000_000]])
        #expect(sbs.status == 200)
        let sbsID = sbs["id"] as? String ?? ""
        try h.waitState(h.block("/volumes/\(sbsID)"), nil, "status", "available")
        let withSBS = h.call("POST", h.instance("/servers"), [
            "name": "with-sbs", "commercial_type": "DEV1-S",
            "volumes": ["0": ["id": sbsID, "volume_type": "sbs_volume"]],
        ])
        #expect(withSBS.status == 201)
        let blockVolume = h.call("GET", h.block("/volumes/\(sbsID)"))
        #expect(blockVolume["status"] as? String == "in_use")
        // An attached volume cannot be taken again.
        let again = h.call("POST", h.instance("/servers"), [
            "name": "thief", "commercial_type": "DEV1-S", "volumes": ["0": ["id": sbsID, "volume_type": "sbs_volume"]],
        ])
        #expect(again.status == 400)
        #expect(again["type"] as? String == "invalid_request_error")
    }

    @Test func powerActionsMoveThroughTimedStates() throws {
        // Transitions last an hour until the test shortens them: the transient
        // states are observed deterministically, then released.
        let h = try APIHarness(durations: .realistic.scaled(by: 100))
        let web = h.server(named: "web-01")
        let id = web["id"] as? String ?? ""
        let path = h.instance("/servers/\(id)")
        func release() { #expect(h.call("POST", "/_sim/durations", ["preset": "fast"]).status == 200) }
        func slow() { #expect(h.call("POST", "/_sim/durations", ["factor": 100]).status == 200) }
        let off = h.call("POST", path + "/action", ["action": "poweroff"])
        #expect(off.status == 202)
        let task = off["task"] as? [String: Any] ?? [:]
        #expect(task["id"] as? String == "00000000-0000-0000-0000-000000000000")
        #expect(task["description"] as? String == "fake task")
        #expect(task["status"] as? String == "pending")
        #expect(task["href_from"] as? String == "/servers/\(id)/action")
        #expect(task["progress"] as? Int == 0 && task["zone"] as? String == "fr-par-1")
        #expect(task["terminated_at"] is NSNull)
        let now = h.call("GET", path)["server"] as? [String: Any] ?? [:]
        #expect(now["state"] as? String == "stopping")
        #expect((now["allowed_actions"] as? [String])?.isEmpty == true)
        // Busy: a second action is a transient_state conflict.
        let busy = h.call("POST", path + "/action", ["action": "poweron"])
        #expect(busy.status == 409)
        #expect(busy["type"] as? String == "transient_state")
        #expect(busy["resource"] as? String == "instance_server")
        release()
        try h.waitState(path, "server", "state", "stopped")
        #expect(h.call("POST", path + "/action", ["action": "reboot"]).status == 400)
        slow()
        #expect(h.call("POST", path + "/action", ["action": "poweron"]).status == 202)
        #expect((h.call("GET", path)["server"] as? [String: Any])?["state"] as? String == "starting")
        release()
        try h.waitState(path, "server", "state", "running")
        #expect(h.call("POST", path + "/action", ["action": "stop_in_place"]).status == 202)
        try h.waitState(path, "server", "state", "stopped in place")
        #expect(h.call("POST", path + "/action", ["action": "dance"]).status == 400)
    }

    @Test func terminateDeletesLocalVolumesAndDetachesSBS() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let id = web["id"] as? String ?? ""
        let local = h.volumeID(web, "0"), sbs = h.volumeID(web, "1")
        #expect(h.call("POST", h.instance("/servers/\(id)/action"), ["action": "terminate"]).status == 202)
        try h.wait("server gone") { h.call("GET", h.instance("/servers/\(id)")).status == 404 }
        #expect(h.call("GET", h.instance("/volumes/\(local)")).status == 404)
        let block = h.call("GET", h.block("/volumes/\(sbs)"))
        #expect(block["status"] as? String == "available")
        #expect((block["references"] as? [Any])?.isEmpty == true)
        #expect(block["last_detached_at"] is String)
    }

    @Test func patchVolumesMapHotPlugsSBSAndGuardsLocalChanges() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let id = web["id"] as? String ?? ""
        let root = h.volumeID(web, "0"), data = h.volumeID(web, "1"), fast = h.volumeID(web, "2")
        // Running: dropping SBS index 2 is fine (hot-unplug); the map is complete.
        let patched = h.call("PATCH", h.instance("/servers/\(id)"), ["volumes": [
            "0": ["id": root, "boot": false, "name": "web-01-root"], "1": ["id": data, "volume_type": "sbs_volume"],
        ]])
        #expect(patched.status == 200)
        let volumes = (patched["server"] as? [String: Any])?["volumes"] as? [String: Any] ?? [:]
        #expect(volumes.keys.sorted() == ["0", "1"])
        // The dropped SBS volume detaches (timed; see sbsAttachmentsPassThroughTimedStates).
        try h.waitState(h.block("/volumes/\(fast)"), nil, "status", "available")
        // Running: dropping the l_ssd root is refused.
        let refused = h.call("PATCH", h.instance("/servers/\(id)"), ["volumes": ["1": ["id": data, "volume_type": "sbs_volume"]]])
        #expect(refused.status == 412)
        #expect(refused["type"] as? String == "precondition_failed")
        // attach-volume / detach-volume for SBS.
        let attached = h.call("POST", h.instance("/servers/\(id)/attach-volume"), ["volume_id": fast, "volume_type": "sbs_volume"])
        #expect(attached.status == 200)
        #expect(h.call("GET", h.block("/volumes/\(fast)"))["status"] as? String == "in_use")
        try h.wait("\(fast) attached") { Self.referenceStatus(h, fast) == "attached" }
        let detached = h.call("POST", h.instance("/servers/\(id)/detach-volume"), ["volume_id": fast])
        #expect(detached.status == 200)
        try h.waitState(h.block("/volumes/\(fast)"), nil, "status", "available")
        // l_ssd detach needs a stopped server.
        #expect(h.call("POST", h.instance("/servers/\(id)/detach-volume"), ["volume_id": root]).status == 412)
        // A deleted server keeps its volumes (detached).
        #expect(h.call("DELETE", h.instance("/servers/\(id)")).status == 412)
    }

    @Test func deleteStoppedServerDetachesVolumes() throws {
        let h = try APIHarness()
        let db = h.server(named: "db-01")
        let id = db["id"] as? String ?? ""
        let root = h.volumeID(db, "0")
        #expect(h.call("DELETE", h.instance("/servers/\(id)")).status == 204)
        #expect(h.call("GET", h.instance("/servers/\(id)")).status == 404)
        try h.waitState(h.block("/volumes/\(root)"), nil, "status", "available")
        #expect(h.call("DELETE", h.block("/volumes/\(root)")).status == 204)
    }

    /// The status of the Block volume's first reference (`attaching`, `attached`, `detaching`), nil without one.
    static func referenceStatus(_ h: APIHarness, _ volumeID: String) -> String? {
        ((h.call("GET", h.block("/volumes/\(volumeID)"))["references"] as? [[String: Any]])?.first)?["status"] as? String
    }

    /// SBS attachments are timed like the recordings show: a reference is
    /// `attaching` (the server's entry too) before `attached`, and
    /// `detaching` (the volume still `in_use`, not deletable, not attachable
    /// elsewhere) before the volume is `available`. Durations are held at
    /// 300 s so the transient states are observed deterministically, then released.
    @Test func sbsAttachmentsPassThroughTimedStates() throws {
        let h = try APIHarness(durations: .realistic.scaled(by: 100))
        func release() { #expect(h.call("POST", "/_sim/durations", ["preset": "fast"]).status == 200) }
        func slow() { #expect(h.call("POST", "/_sim/durations", ["factor": 100]).status == 200) }
        let durations = h.call("GET", "/_sim/durations")
        #expect((durations["block_volume_attach"] as? NSNumber)?.doubleValue == 300)
        #expect((durations["block_volume_detach"] as? NSNumber)?.doubleValue == 300)
        let web = h.server(named: "web-01"), db = h.server(named: "db-01")
        let id = web["id"] as? String ?? ""
        let root = h.volumeID(web, "0"), data = h.volumeID(web, "1"), fast = h.volumeID(web, "2")

        // Detach through the volumes map.
        let patched = h.call("PATCH", h.instance("/servers/\(id)"), ["volumes": [
            "0": ["id": root, "boot": false, "name": "web-01-root"], "1": ["id": data, "volume_type": "sbs_volume"],
        ]])
        #expect(patched.status == 200)
        #expect(((patched["server"] as? [String: Any])?["volumes"] as? [String: Any])?["2"] == nil)
        let detaching = h.call("GET", h.block("/volumes/\(fast)"))
        #expect(detaching["status"] as? String == "in_use")
        #expect(Self.referenceStatus(h, fast) == "detaching")
        let refused = h.call("DELETE", h.block("/volumes/\(fast)"))
        #expect(refused.status == 412)
        #expect(refused["precondition"] as? String == "resource_still_in_use")
        let elsewhere = h.call("POST", h.instance("/servers/\(db["id"] as? String ?? "")/attach-volume"),
                               ["volume_id": fast, "volume_type": "sbs_volume"])
        #expect(elsewhere.status == 400, "a detaching volume was attached to another server")
        release()
        try h.waitState(h.block("/volumes/\(fast)"), nil, "status", "available")
        let detached = h.call("GET", h.block("/volumes/\(fast)"))
        #expect((detached["references"] as? [Any])?.isEmpty == true)
        #expect(detached["last_detached_at"] is String)

        // Attach through attach-volume: the answer already shows the entry `attaching`.
        slow()
        let attached = h.call("POST", h.instance("/servers/\(id)/attach-volume"), ["volume_id": fast, "volume_type": "sbs_volume"])
        #expect(attached.status == 200)
        func entryState(_ server: [String: Any]?) -> String? {
            ((server?["volumes"] as? [String: Any])?.values.compactMap { $0 as? [String: Any] }
                .first { $0["id"] as? String == fast })?["state"] as? String
        }
        #expect(entryState(attached["server"] as? [String: Any]) == "attaching")
        #expect(h.call("GET", h.block("/volumes/\(fast)"))["status"] as? String == "in_use")
        #expect(Self.referenceStatus(h, fast) == "attaching")
        #expect(entryState(h.call("GET", h.instance("/servers/\(id)"))["server"] as? [String: Any]) == "attaching")
        release()
        try h.wait("\(fast) attached") { Self.referenceStatus(h, fast) == "attached" }
        #expect(entryState(h.call("GET", h.instance("/servers/\(id)"))["server"] as? [String: Any]) == "available")
        #expect(h.call("GET", h.block("/volumes/\(fast)"))["status"] as? String == "in_use")

        // A new server made of an existing SBS volume: `attaching` too.
        slow()
        let spare = h.call("POST", h.block("/volumes"), ["name": "spare", "perf_iops": 5000, "project_id": h.projectID,
                                                          "from_empty": ["size": 1_000_000_000]])
        let spareID = spare["id"] as? String ?? ""
        release()
        try h.waitState(h.block("/volumes/\(spareID)"), nil, "status", "available")
        slow()
        let created = h.call("POST", h.instance("/servers"), [
            "name": "from-sbs", "commercial_type": "DEV1-S", "volumes": ["0": ["id": spareID, "volume_type": "sbs_volume"]],
        ])
        #expect(created.status == 201)
        #expect(((created["server"] as? [String: Any])?["volumes"] as? [String: Any])
            .flatMap { ($0["0"] as? [String: Any])?["state"] as? String } == "attaching")
        #expect(Self.referenceStatus(h, spareID) == "attaching")
        release()
        try h.wait("\(spareID) attached") { Self.referenceStatus(h, spareID) == "attached" }
    }
}
