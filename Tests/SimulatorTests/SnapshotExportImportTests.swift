import Foundation
import Testing
@testable import ScalewaySimulator

/// Snapshots, exports and imports through both APIs, judged by qemu-img.
@Suite struct SnapshotExportImportTests {
    func snapshotID(_ answer: APIAnswer, wrapped: Bool) -> String {
        (wrapped ? answer["snapshot"] as? [String: Any] : answer.json)?["id"] as? String ?? ""
    }

    /// Raw bytes of an image as qemu-img reads them.
    func qemuRaw(_ image: String) throws -> String {
        let raw = image + ".raw"
        let convert = try HTTPTestSupport.run("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", image, raw])
        #expect(convert.status == 0, "\(convert.stderr)")
        defer { unlink(raw) }
        return try SparseFile.sha256(of: raw).digest
    }

    @Test func instanceSnapshotExportIsAValidQCOW2OfTheVolume() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let root = h.volumeID(web, "0")
        let created = h.call("POST", h.instance("/snapshots"), ["name": "s1", "volume_id": root, "project": h.projectID])
        #expect(created.status == 201)
        let snap = created["snapshot"] as? [String: Any] ?? [:]
        #expect(snap["state"] as? String == "snapshotting")
        #expect(snap["volume_type"] as? String == "l_ssd")
        #expect((snap["base_volume"] as? [String: Any])?["id"] as? String == root)
        #expect(snap["error_details"] is NSNull)
        let task = created["task"] as? [String: Any] ?? [:]
        #expect(task["href_from"] as? String == "/snapshots")
        #expect(task["href_result"] as? String == "snapshots/\(snap["id"] as? String ?? "")")
        let id = snap["id"] as? String ?? ""
        // Busy volume while snapshotting.
        #expect(h.call("GET", h.instance("/volumes/\(root)"))["volume"].flatMap { ($0 as? [String: Any])?["state"] as? String } != nil)
        try h.waitState(h.instance("/snapshots/\(id)"), "snapshot", "state", "available")
        #expect((h.call("GET", h.instance("/volumes/\(root)"))["volume"] as? [String: Any])?["state"] as? String == "available")
        // The SBS snapshot path on Instance answers 404 instance_snapshot.
        let export = h.call("POST", h.instance("/snapshots/\(id)/export"), ["bucket": "plakar-staging", "key": "exp/root.qcow2"])
        #expect(export.status == 202)
        let exportTask = export["task"] as? [String: Any] ?? [:]
        #expect(exportTask["href_result"] as? String == "https://s3.fr-par.scw.cloud/plakar-staging/exp/root.qcow2")
        #expect(exportTask["href_from"] as? String == "/snapshots/\(id)/export")
        // Placeholder while exporting (durations are near zero, so check what we can).
        let state = (h.call("GET", h.instance("/snapshots/\(id)"))["snapshot"] as? [String: Any])?["state"] as? String
        if state == "exporting" {
            let placeholder = h.objects.object(bucket: "plakar-staging", key: "exp/root.qcow2")
            #expect(placeholder?.contentType == "application/x-qemu-disk")
        }
        if state == "exporting" { #expect(h.call("DELETE", h.instance("/snapshots/\(id)")).status == 409) }
        try h.waitState(h.instance("/snapshots/\(id)"), "snapshot", "state", "available")
        let object = try #require(h.objects.object(bucket: "plakar-staging", key: "exp/root.qcow2"))
        #expect(object.size > 0)
        let check = try HTTPTestSupport.run("qemu-img", ["check", object.path])
        #expect(check.status == 0, "\(check.text) \(check.stderr)")
        let info = try HTTPTestSupport.run("qemu-img", ["info", "--output=json", object.path])
        let infoJSON = try JSONSerialization.jsonObject(with: info.stdout) as? [String: Any] ?? [:]
        #expect(infoJSON["virtual-size"] as? Int == 1_000_000_000)
        #expect(infoJSON["cluster-size"] as? Int == 65536)
        #expect(((infoJSON["format-specific"] as? [String: Any])?["data"] as? [String: Any])?["compat"] as? String == "1.1")
        #expect(try qemuRaw(object.path) == h.digest(volume: root))
        // Image much smaller than the volume: holes are unallocated clusters.
        #expect(object.size < 20 << 20)
    }

    @Test func blockSnapshotExportAndImportRoundTrip() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let fast = h.volumeID(web, "2")
        let created = h.call("POST", h.block("/snapshots"), ["volume_id": fast, "name": "b1", "project_id": h.projectID,
                                                              "tags": [], "public": false])
        #expect(created.status == 200)
        #expect(created["status"] as? String == "creating")
        #expect(created["class"] as? String == "sbs")
        #expect((created["parent_volume"] as? [String: Any])?["type"] as? String == "sbs_15k")
        #expect((created["parent_volume"] as? [String: Any])?["status"] as? String == "in_use")
        let id = created["id"] as? String ?? ""
        #expect(h.call("GET", h.instance("/snapshots/\(id)"))["resource"] as? String == "instance_snapshot")
        try h.waitState(h.block("/snapshots/\(id)"), nil, "status", "available")
        let export = h.call("POST", h.block("/snapshots/\(id)/export-to-object-storage"),
                            ["bucket": "plakar-staging", "key": "b1.qcow2"])
        #expect(export.status == 200)
        #expect(export["status"] as? String == "exporting")
        // Exporting is a transient state: delete is refused.
        let busy = h.call("DELETE", h.block("/snapshots/\(id)"))
        #expect(busy.status == 409 || busy.status == 204)
        if busy.status == 409 { #expect(busy["type"] as? String == "transient_state") }
        try h.wait("export done") {
            let s = h.call("GET", h.block("/snapshots/\(id)"))
            return s.status == 404 || s["status"] as? String == "available"
        }
        let object = try #require(h.objects.object(bucket: "plakar-staging", key: "b1.qcow2"))
        #expect(try HTTPTestSupport.run("qemu-img", ["check", object.path]).status == 0)
        #expect(try qemuRaw(object.path) == h.digest(volume: fast))

        // Import it back and make a volume of it.
        let imported = h.call("POST", h.block("/snapshots/import-from-object-storage"),
                              ["bucket": "plakar-staging", "key": "b1.qcow2", "name": "back", "project_id": h.projectID, "tags": []])
        #expect(imported.status == 200)
        #expect(imported["status"] as? String == "creating")
        #expect(imported["parent_volume"] is NSNull)
        #expect(imported["size"] as? Int == 1_000_000_000)
        let importedID = imported["id"] as? String ?? ""
        try h.waitState(h.block("/snapshots/\(importedID)"), nil, "status", "available")
        let volume = h.call("POST", h.block("/volumes"), ["name": "from-import", "perf_iops": 15000, "project_id": h.projectID,
                                                          "from_snapshot": ["snapshot_id": importedID, "size": NSNull()], "tags": []])
        #expect(volume.status == 200)
        #expect(volume["type"] as? String == "sbs_15k")
        #expect(volume["parent_snapshot_id"] as? String == importedID)
        let volumeID = volume["id"] as? String ?? ""
        try h.waitState(h.block("/volumes/\(volumeID)"), nil, "status", "available")
        #expect(h.digest(volume: volumeID) == h.digest(volume: fast))
    }

    @Test func instanceImportOfQemuMadeImagesPlainAndCompressed() throws {
        let h = try APIHarness()
        let work = h.directory + "/images"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let raw = work + "/disk.raw"
        try SparseFile.create(at: raw, size: 2_000_000_000)
        try ContentPattern.write([ContentRegion(offset: 0, length: 3 << 20, seed: 7),
                                  ContentRegion(offset: 1_000_000_000, length: (1 << 20) + 5, seed: 8)], to: raw)
        let expected = try SparseFile.sha256(of: raw).digest
        for (name, extra) in [("plain", [String]()), ("compressed", ["-c"]), ("v2", ["-o", "compat=0.10"])] {
            let image = work + "/\(name).qcow2"
            let made = try HTTPTestSupport.run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2"] + extra + [raw, image])
            #expect(made.status == 0, "\(made.stderr)")
            try h.objects.putObject(bucket: "plakar-staging", key: "\(name).qcow2", contentsOf: image,
                                    contentType: "application/octet-stream", partSize: nil)
            let created = h.call("POST", h.instance("/snapshots"), ["name": name, "project": h.projectID, "volume_type": "l_ssd",
                                                                    "bucket": "plakar-staging", "key": "\(name).qcow2"])
            #expect(created.status == 201, "\(created.json)")
            let snap = created["snapshot"] as? [String: Any] ?? [:]
            #expect(snap["state"] as? String == "importing")
            #expect(snap["size"] as? Int == 2_000_000_000)
            #expect(snap["base_volume"] is NSNull)
            let id = snap["id"] as? String ?? ""
            try h.waitState(h.instance("/snapshots/\(id)"), "snapshot", "state", "available")
            let volume = h.call("POST", h.instance("/volumes"), ["name": name, "project": h.projectID,
                                                                 "volume_type": "l_ssd", "base_snapshot": id])
            #expect(volume.status == 201)
            let v = volume["volume"] as? [String: Any] ?? [:]
            #expect(v["state"] as? String == "available")
            #expect(v["size"] as? Int == 2_000_000_000)
            #expect(h.digest(volume: v["id"] as? String ?? "") == expected, "\(name)")
        }
    }

    @Test func importRejectsWhatTheServiceRejects() throws {
        let h = try APIHarness()
        let work = h.directory + "/bad"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let raw = work + "/disk.raw"
        try SparseFile.create(at: raw, size: 1_000_000_000)
        try ContentPattern.write([ContentRegion(offset: 0, length: 1 << 20, seed: 9)], to: raw)
        func put(_ name: String, _ path: String) throws {
            try h.objects.putObject(bucket: "plakar-staging", key: name, contentsOf: path, contentType: "application/octet-stream",
                                    partSize: nil)
        }
        // Backing file.
        let backed = work + "/backed.qcow2"
        #expect(try HTTPTestSupport.run("qemu-img", ["create", "-f", "qcow2", "-F", "raw", "-b", raw, backed]).status == 0)
        try put("backed.qcow2", backed)
        // zstd compression type.
        let zstd = work + "/zstd.qcow2"
        let madeZstd = try HTTPTestSupport.run("qemu-img", ["convert", "-f", "raw", "-O", "qcow2", "-c", "-o", "compression_type=zstd", raw, zstd])
        // Encrypted (LUKS).
        let encrypted = work + "/enc.qcow2"
        let madeEncrypted = try HTTPTestSupport.run("qemu-img", [
            "create", "--object", "secret,id=sec0,data=abc123", "-f", "qcow2", "-o", "encrypt.format=luks,encrypt.key-secret=sec0",
            encrypted, "1G"])
        var rejected = ["backed.qcow2"]
        if madeZstd.status == 0 { try put("zstd.qcow2", zstd); rejected.append("zstd.qcow2") }
        if madeEncrypted.status == 0 { try put("enc.qcow2", encrypted); rejected.append("enc.qcow2") }
        for key in rejected {
            let instance = h.call("POST", h.instance("/snapshots"), ["name": key, "project": h.projectID, "volume_type": "l_ssd",
                                                                     "bucket": "plakar-staging", "key": key])
            #expect(instance.status == 400, "\(key)")
            #expect(instance["type"] as? String == "invalid_request_error")
            let block = h.call("POST", h.block("/snapshots/import-from-object-storage"),
                               ["bucket": "plakar-staging", "key": key, "name": key, "project_id": h.projectID])
            #expect(block.status == 400, "\(key)")
            #expect(block["type"] as? String == "invalid_arguments")
        }
        // Not a QCOW2 (a few MiB of raw disk): accepted, then the snapshot ends
        // invalid_data (Instance) / error (Block).
        let notQCOW2 = work + "/raw.img"
        try SparseFile.create(at: notQCOW2, size: 4 << 20)
        try ContentPattern.write([ContentRegion(offset: 0, length: 4 << 20, seed: 10)], to: notQCOW2)
        try put("raw.img", notQCOW2)
        let instance = h.call("POST", h.instance("/snapshots"), ["name": "raw", "project": h.projectID, "volume_type": "l_ssd",
                                                                 "bucket": "plakar-staging", "key": "raw.img", "size": 1_000_000_000])
        #expect(instance.status == 201)
        let instanceID = snapshotID(instance, wrapped: true)
        try h.waitState(h.instance("/snapshots/\(instanceID)"), "snapshot", "state", "invalid_data")
        let block = h.call("POST", h.block("/snapshots/import-from-object-storage"),
                           ["bucket": "plakar-staging", "key": "raw.img", "name": "raw", "project_id": h.projectID])
        #expect(block.status == 200)
        try h.waitState(h.block("/snapshots/\(snapshotID(block, wrapped: false))"), nil, "status", "error")
        // Missing object, wrong-region bucket.
        let missing = h.call("POST", h.instance("/snapshots"), ["name": "x", "project": h.projectID, "volume_type": "l_ssd",
                                                                "bucket": "plakar-staging", "key": "nope"])
        #expect(missing.status == 400)
        h.objects.createBucket(BucketInfo(name: "amsterdam", region: "nl-ams", projectID: h.projectID))
        let region = h.call("POST", h.block("/snapshots/import-from-object-storage"),
                            ["bucket": "amsterdam", "key": "raw.img", "name": "x", "project_id": h.projectID])
        #expect(region.status == 400)
        #expect(((region["details"] as? [[String: Any]])?.first)?["argument_name"] as? String == "bucket")
    }

    @Test func asyncFaultsEndInErrorOrCorruptTheExport() throws {
        let h = try APIHarness()
        let web = h.server(named: "web-01")
        let data = h.volumeID(web, "1")
        h.core.faults.install(FaultRule(id: "snap-fails", service: "api", method: "POST", pathContains: "/block/v1/zones/fr-par-1/snapshots",
                                        action: .asyncError, count: 1))
        let failing = h.call("POST", h.block("/snapshots"), ["volume_id": data, "name": "doomed", "project_id": h.projectID])
        try h.waitState(h.block("/snapshots/\(failing["id"] as? String ?? "")"), nil, "status", "error")
        // Only the first matching request fails.
        let ok = h.call("POST", h.block("/snapshots"), ["volume_id": data, "name": "fine", "project_id": h.projectID])
        let okID = ok["id"] as? String ?? ""
        try h.waitState(h.block("/snapshots/\(okID)"), nil, "status", "available")
        h.core.faults.install(FaultRule(id: "corrupt", service: "api", pathContains: "export-to-object-storage",
                                        action: .corrupt, count: 1))
        #expect(h.call("POST", h.block("/snapshots/\(okID)/export-to-object-storage"),
                       ["bucket": "plakar-staging", "key": "c.qcow2"]).status == 200)
        try h.waitState(h.block("/snapshots/\(okID)"), nil, "status", "available")
        let corrupted = try #require(h.objects.object(bucket: "plakar-staging", key: "c.qcow2"))
        let check = try HTTPTestSupport.run("qemu-img", ["convert", "-f", "qcow2", "-O", "raw", corrupted.path, corrupted.path + ".raw"])
        let intact = check.status == 0 ? try SparseFile.sha256(of: corrupted.path + ".raw").digest == h.digest(volume: data) : false
        #expect(!intact, "a corrupted export must not decode to the volume's bytes")
        // Export errors end the snapshot in error.
        h.core.faults.install(FaultRule(id: "export-fails", service: "api", pathContains: "export-to-object-storage",
                                        action: .asyncError, count: 1))
        #expect(h.call("POST", h.block("/snapshots/\(okID)/export-to-object-storage"),
                       ["bucket": "plakar-staging", "key": "d.qcow2"]).status == 200)
        try h.waitState(h.block("/snapshots/\(okID)"), nil, "status", "error")
        #expect(h.core.faults.firedCounts["export-fails"] == 1)
    }
}
