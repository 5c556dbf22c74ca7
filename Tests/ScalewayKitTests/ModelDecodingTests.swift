import Foundation
import Testing
@testable import ScalewayKit

/// Decoding is tolerant: minimal SBS entries, nulls, unknown fields, both APIs' shapes.
@Suite struct ModelDecodingTests {
    func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(json.utf8))
    }

    @Test func serverWithMixedVolumeEntries() throws {
        let json = #"""
        {"id": "016fc945-5ad3-4791-b3db-9fbaa5455fb5", "name": "srv", "arch": "x86_64", "commercial_type": "DEV1-S", "boot_type": "local",
         "organization": "o", "project": "p", "hostname": "srv", "image": {"id": "i", "name": "Ubuntu", "root_volume": {"volume_type": "sbs_snapshot", "id": "x", "size": 0, "name": ""}, "extra_volumes": {}},
         "volumes": {"1": {"boot": false, "id": "l1", "name": "data", "volume_type": "l_ssd", "export_uri": null, "organization": "o", "project": "p",
                           "server": {"id": "016fc945", "name": "srv"}, "size": 10000000000, "state": "available", "creation_date": "2026-07-30T12:53:22.055564+00:00",
                           "modification_date": "2026-07-30T12:53:33.106278+00:00", "tags": [], "zone": "fr-par-1"},
                     "0": {"boot": false, "volume_type": "sbs_volume", "id": "b0", "state": "available", "zone": "fr-par-1"},
                     "2": {"boot": false, "volume_type": "sbs_volume", "id": "b2", "zone": "fr-par-1"}},
         "tags": ["a"], "state": "stopped in place", "protected": false, "state_detail": "", "public_ip": null, "public_ips": [],
         "mac_address": "de:00:01:27:16:1f", "routed_ip_enabled": true, "ipv6": null, "extra_networks": [], "dynamic_ip_required": false,
         "enable_ipv6": false, "private_ip": null, "security_group": {"id": "sg", "name": "Default security group"}, "location": null,
         "maintenances": [], "allowed_actions": ["poweron", "backup"], "placement_group": null, "private_nics": [], "zone": "fr-par-1",
         "filesystems": [], "end_of_service": false}
        """#
        let server = try decode(InstanceServer.self, json)
        #expect(server.state == "stopped in place" && server.securityGroup?.name == "Default security group")
        #expect(server.sortedVolumes.map(\.index) == ["0", "1", "2"])
        #expect(server.sortedVolumes.map(\.volume.family) == [.blockStorage, .localSSD, .blockStorage])
        #expect(server.volumes?["1"]?.size == 10_000_000_000 && server.volumes?["2"]?.state == nil)
        #expect(server.placementGroup == nil && server.publicIP == nil)
    }

    @Test func blockVolumeAndSnapshots() throws {
        let volume = try decode(BlockVolume.self, #"""
        {"id":"35670156","name":"vol_0","type":"sbs_5k","size":10000000000,"project_id":"p","created_at":"2026-08-17T09:36:05.922328Z",
         "updated_at":"2026-08-17T09:36:06.044797Z","references":[{"id":"r","product_resource_type":"instance_server","product_resource_id":"7ef5",
         "created_at":"2026-08-17T09:36:05.922328Z","type":"exclusive","status":"attached"}],"parent_snapshot_id":"c75e","status":"in_use","tags":[],
         "specs":{"perf_iops":5000,"class":"sbs"},"last_detached_at":null,"kms_key_id":null,"zone":"fr-par-1"}
        """#)
        #expect(volume.status == "in_use" && volume.references?.first?.productResourceID == "7ef5" && volume.specs?.perfIOPS == 5000)
        let snapshot = try decode(BlockSnapshot.self, #"""
        {"class":"sbs","created_at":"2026-08-17T09:32:40.934253Z","id":"ea08","name":"n","parent_volume":{"id":"f53b","name":"v","status":"available","type":"sbs_5k"},
         "project_id":"p","public":false,"references":[],"size":10000000000,"status":"exporting","tags":[],"updated_at":"2026-08-17T09:32:46.385632Z","zone":"fr-par-1"}
        """#)
        #expect(snapshot.status == "exporting" && snapshot.parentVolume?.type == "sbs_5k" && snapshot.public == false)
        let imported = try decode(InstanceSnapshot.self, #"""
        {"id": "d91c", "name": "tf", "volume_type": "l_ssd", "creation_date": "2026-08-17T09:39:14.318437+00:00", "organization": "o", "project": "p",
         "size": 10000000000, "state": "importing", "base_volume": null, "tags": [], "zone": "fr-par-1", "error_details": null}
        """#)
        #expect(imported.baseVolume == nil && imported.state == "importing" && imported.errorDetails == nil)
    }
}
