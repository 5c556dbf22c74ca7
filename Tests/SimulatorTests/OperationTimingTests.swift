import Foundation
import Testing
@testable import ScalewaySimulator

/// Transient states held for their configured duration, and the backup action.
@Suite struct OperationTimingTests {
    @Test func exportShowsAZeroBytePlaceholderUntilItEnds() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let fast = h.volumeID(web, "2")
        let snap = h.call("POST", h.block("/snapshots"), ["volume_id": fast, "name": "p", "project_id": h.projectID])
        let id = snap["id"] as? String ?? ""
        try h.waitState(h.block("/snapshots/\(id)"), nil, "status", "available")
        // Exports now take an hour: the placeholder is observable.
        #expect(h.call("PUT", "/_sim/durations", ["block_export": 3600.0]).status == 200)
        #expect(h.call("POST", h.block("/snapshots/\(id)/export-to-object-storage"),
                       ["bucket": "plakar-staging", "key": "p.qcow2"]).status == 200)
        let placeholder = try #require(h.objects.object(bucket: "plakar-staging", key: "p.qcow2"))
        #expect(placeholder.size == 0)
        #expect(placeholder.contentType == "application/x-qemu-disk")
        #expect(h.call("GET", h.block("/snapshots/\(id)"))["status"] as? String == "exporting")
        // A second export of the same snapshot is refused while this one runs.
        let second = h.call("POST", h.block("/snapshots/\(id)/export-to-object-storage"),
                            ["bucket": "plakar-staging", "key": "q.qcow2"])
        #expect(second.status == 409)
        #expect(second["current_state"] as? String == "exporting")
        // Back to fast: the export in flight finishes now.
        #expect(h.call("POST", "/_sim/durations", ["preset": "fast"]).status == 200)
        try h.waitState(h.block("/snapshots/\(id)"), nil, "status", "available", timeout: 10)
        let image = try #require(h.objects.object(bucket: "plakar-staging", key: "p.qcow2"))
        #expect(image.size > 0)
        #expect(h.objects.object(bucket: "plakar-staging", key: "q.qcow2") == nil)
    }

    @Test func backupSnapshotsEveryVolumeThroughItsService() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let id = web["id"] as? String ?? ""
        let answer = h.call("POST", h.instance("/servers/\(id)/action"), ["action": "backup"])
        #expect(answer.status == 202)
        let instanceSnaps = h.call("GET", h.instance("/snapshots?name=web-01"))["snapshots"] as? [[String: Any]] ?? []
        let blockSnaps = h.call("GET", h.block("/snapshots?name=web-01"))["snapshots"] as? [[String: Any]] ?? []
        #expect(instanceSnaps.count == 1)
        #expect(blockSnaps.count == 2)
        for snap in instanceSnaps {
            try h.waitState(h.instance("/snapshots/\(snap["id"] as? String ?? "")"), "snapshot", "state", "available")
        }
        for snap in blockSnaps {
            try h.waitState(h.block("/snapshots/\(snap["id"] as? String ?? "")"), nil, "status", "available")
        }
        #expect((h.call("GET", h.instance("/servers/\(id)"))["server"] as? [String: Any])?["state"] as? String == "running")
    }
}
