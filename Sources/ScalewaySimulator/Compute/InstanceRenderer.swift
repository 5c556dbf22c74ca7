import Foundation

/// Renders Instance API resources exactly in the recorded shapes.
enum InstanceRenderer {
    static let nullValue = NSNull()

    static func volume(_ v: VolumeRecord, state: AccountState, organization: String) -> JSONObject {
        var server: Any = nullValue
        if let sid = v.serverID, let s = state.servers[sid] { server = ["id": s.id, "name": s.name] }
        return [
            "id": v.id, "name": v.name, "volume_type": v.type.rawValue, "export_uri": nullValue,
            "organization": organization, "project": v.projectID, "server": server, "size": v.size,
            "state": v.state, "creation_date": Timestamp.instance(v.createdAt),
            "modification_date": Timestamp.instance(v.modifiedAt), "tags": v.tags, "zone": v.zone,
        ]
    }

    /// A server's `volumes` entry: l_ssd entries carry the whole volume,
    /// SBS entries the minimal `{boot, volume_type, id, state, zone}`.
    static func serverVolume(_ v: VolumeRecord, state: AccountState, organization: String) -> JSONObject {
        if v.type.isBlock {
            let entryState: String = switch v.reference?.status {
            case "attaching": "attaching"
            case "detaching": "detaching"
            default: "available"
            }
            return ["boot": false, "volume_type": "sbs_volume", "id": v.id, "state": entryState, "zone": v.zone]
        }
        var entry = volume(v, state: state, organization: organization)
        entry["boot"] = false
        return entry
    }

    static func server(_ s: ServerRecord, state: AccountState) -> JSONObject {
        let organization = state.organizationID
        var volumes: JSONObject = [:]
        for (index, id) in s.volumes {
            if let v = state.volumes[id] { volumes[index] = serverVolume(v, state: state, organization: organization) }
        }
        let running = s.state == "running" || s.state == "starting" || s.state == "stopping"
        let location: Any = running
            ? ["zone_id": s.zone, "platform_id": "14", "cluster_id": "93", "hypervisor_id": "702", "node_id": "54"]
            : nullValue
        return [
            "id": s.id, "name": s.name, "arch": s.arch, "commercial_type": s.commercialType,
            "boot_type": s.bootType, "organization": organization, "project": s.projectID,
            "hostname": s.hostname, "image": nullValue, "volumes": volumes, "tags": s.tags,
            "state": s.state, "protected": s.protected, "state_detail": s.stateDetail,
            "public_ip": nullValue, "public_ips": [Any](), "mac_address": s.macAddress,
            "routed_ip_enabled": true, "ipv6": nullValue, "extra_networks": [Any](),
            "dynamic_ip_required": s.dynamicIPRequired, "enable_ipv6": s.enableIPv6,
            "private_ip": nullValue, "creation_date": Timestamp.instance(s.createdAt),
            "modification_date": Timestamp.instance(s.modifiedAt), "bootscript": nullValue,
            "security_group": ["id": s.securityGroupID, "name": "Default security group"],
            "location": location, "maintenances": [Any](), "allowed_actions": s.allowedActions,
            "placement_group": nullValue, "private_nics": [Any](), "zone": s.zone,
            "filesystems": [Any](), "end_of_service": false,
            "dns": "\(s.id).pub.instances.scw.cloud",
        ]
    }

    static func snapshot(_ s: SnapshotRecord, organization: String) -> JSONObject {
        let base: Any = s.baseVolume.map { ["id": $0.id, "name": $0.name] } ?? nullValue
        return [
            "id": s.id, "name": s.name, "volume_type": s.volumeType.rawValue,
            "creation_date": Timestamp.instance(s.createdAt), "modification_date": Timestamp.instance(s.modifiedAt),
            "organization": organization, "project": s.projectID, "size": s.size, "state": s.state,
            "base_volume": base, "tags": s.tags, "zone": s.zone,
            "error_details": s.errorDetails.map { $0 as Any } ?? nullValue,
        ]
    }

    /// The fake task every Instance action, snapshot and export returns.
    static func task(hrefFrom: String, hrefResult: String, zone: String, startedAt: Date = Date()) -> JSONObject {
        [
            "id": "00000000-0000-0000-0000-000000000000", "description": "fake task", "status": "pending",
            "href_from": hrefFrom, "href_result": hrefResult, "started_at": Timestamp.instance(startedAt),
            "terminated_at": nullValue, "progress": 0, "zone": zone,
        ]
    }
}
