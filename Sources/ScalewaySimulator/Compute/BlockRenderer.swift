import Foundation

/// Renders Block Storage API resources exactly in the recorded shapes.
enum BlockRenderer {
    static let nullValue = NSNull()

    static func volume(_ v: VolumeRecord) -> JSONObject {
        var references: [JSONObject] = []
        if let r = v.reference {
            references.append([
                "id": r.id, "product_resource_type": "instance_server", "product_resource_id": r.serverID,
                "created_at": Timestamp.block(r.createdAt), "type": "exclusive", "status": r.status,
            ])
        }
        return [
            "id": v.id, "name": v.name, "type": v.type.rawValue, "size": v.size, "project_id": v.projectID,
            "created_at": Timestamp.block(v.createdAt), "updated_at": Timestamp.block(v.modifiedAt),
            "references": references, "parent_snapshot_id": v.parentSnapshotID.map { $0 as Any } ?? nullValue,
            "status": v.state, "tags": v.tags, "specs": ["perf_iops": v.type.perfIOPS, "class": "sbs"],
            "last_detached_at": Timestamp.block(v.lastDetachedAt), "kms_key_id": nullValue, "zone": v.zone,
        ]
    }

    static func snapshot(_ s: SnapshotRecord, state: AccountState) -> JSONObject {
        var parent: Any = nullValue
        if let base = s.baseVolume {
            let status = state.volumes[base.id]?.state ?? "deleted"
            parent = ["id": base.id, "name": base.name, "type": base.type.rawValue, "status": status]
        }
        return [
            "id": s.id, "name": s.name, "parent_volume": parent, "size": s.size, "project_id": s.projectID,
            "created_at": Timestamp.block(s.createdAt), "updated_at": Timestamp.block(s.modifiedAt),
            "references": [Any](), "status": s.state, "tags": s.tags, "class": "sbs", "zone": s.zone,
            "public": s.isPublic,
        ]
    }
}
