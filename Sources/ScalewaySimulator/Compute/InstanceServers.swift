import Foundation

/// Instance servers: list, get, create, update (volumes map), delete,
/// actions and volume attachment.
extension ScalewayAPI {
    func server(_ state: AccountState, _ id: String, zone: String) throws -> ServerRecord {
        guard let server = state.servers[id], server.zone == zone else { throw APIError.notFound("instance_server", id) }
        return server
    }

    func renderServer(_ id: String) -> JSONObject {
        store.read { s in s.servers[id].map { InstanceRenderer.server($0, state: s) } ?? [:] }
    }

    func listServers(_ r: APIRequest) throws -> HTTPResponse {
        let items = store.read { s -> [JSONObject] in
            AccountState.ordered(s.servers.values, created: \.createdAt, id: \.id)
                .filter { $0.zone == r.zone }
                .filter { server in r.query("name").map { server.name.contains($0) } ?? true }
                .filter { server in r.query("project").map { server.projectID == $0 } ?? true }
                .filter { ScalewayAPI.matchesTags($0.tags, query: r.query("tags")) }
                .filter { server in r.query("state").map { server.state == $0 } ?? true }
                .map { InstanceRenderer.server($0, state: s) }
        }
        return try instanceList(r, name: "servers", items: items)
    }

    func getServer(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let rendered = try store.read { s in InstanceRenderer.server(try server(s, id, zone: r.zone), state: s) }
        return json(200, ["server": rendered])
    }

    func listServerActions(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let actions = try store.read { s in try server(s, id, zone: r.zone).allowedActions }
        return json(200, ["actions": actions])
    }

    func createServer(_ r: APIRequest) throws -> HTTPResponse {
        let body = try r.body()
        guard let commercialType = body.string("commercial_type"), !commercialType.isEmpty else {
            throw APIError.invalidRequest("Validation Error", fields: ["commercial_type": ["required key not provided"]])
        }
        guard let templates = body.object("volumes"), templates["0"] != nil else {
            throw APIError.invalidRequest("Validation Error", fields: ["volumes": ["a root volume (index \"0\") is required"]])
        }
        let id = Identifier.make()
        let name = body.string("name") ?? "srv-\(id.prefix(8))"
        let now = Date()
        var createdLocalVolumes: [(String, String)] = [] // (volume, snapshot) contents to copy
        try store.mutate { s in
            let project = try r.project(from: body, field: "project", in: s)
            try checkQuota("servers", current: s.servers.values.filter { $0.projectID == project }.count,
                           quota: s.quotas.servers)
            var server = ServerRecord(
                id: id, name: name, hostname: Self.hostname(name), projectID: project, zone: r.zone,
                commercialType: commercialType, arch: "x86_64", bootType: body.string("boot_type") ?? "local",
                tags: body.strings("tags") ?? [], state: "stopped", stateDetail: "", volumes: [:],
                macAddress: Self.macAddress(), dynamicIPRequired: body.bool("dynamic_ip_required") ?? true,
                enableIPv6: body.bool("enable_ipv6") ?? false, protected: body.bool("protected") ?? false,
                securityGroupID: Self.defaultSecurityGroup, createdAt: now, modifiedAt: now)
            var next = s
            for index in templates.keys.sorted() {
                guard Int(index) != nil, let template = templates[index] as? JSONObject else {
                    throw APIError.invalidRequest("Validation Error", fields: ["volumes.\(index)": ["invalid volume template"]])
                }
                let volumeID = try volumeFromTemplate(template, index: index, server: server, request: r,
                                                      state: &next, created: &createdLocalVolumes)
                server.volumes[index] = volumeID
            }
            next.servers[id] = server
            s = next
        }
        settleAttachments(of: store.read { $0.servers[id].map { Array($0.volumes.values) } ?? [] })
        for (volume, snapshot) in createdLocalVolumes {
            try SparseFile.copy(from: store.snapshotPath(snapshot), to: store.volumePath(volume),
                                size: store.read { $0.volumes[volume]?.size })
        }
        var headers = HTTPHeaders()
        headers.set("Location", "\(r.basePath)/servers/\(id)")
        return json(201, ["server": renderServer(id)], headers: headers)
    }

    /// Resolves one root-volume template of a server creation: an existing
    /// SBS volume, an existing l_ssd volume, or a new l_ssd (or SBS) volume
    /// from a snapshot or a size.
    private func volumeFromTemplate(_ t: JSONObject, index: String, server: ServerRecord, request r: APIRequest,
                                    state s: inout AccountState, created: inout [(String, String)]) throws -> String {
        let now = Date()
        let field = "volumes.\(index)"
        if let existing = t.string("id") {
            guard var volume = s.volumes[existing], volume.zone == r.zone else {
                throw t.string("volume_type") == "sbs_volume"
                    ? APIError.notFound("volume", existing) : APIError.notFound("instance_volume", existing)
            }
            guard volume.serverID == nil else {
                throw APIError.invalidRequest("Validation Error", fields: [field: ["volume \(existing) is already attached to a server"]])
            }
            attach(&volume, to: server.id, at: now, durations: s.durations)
            s.volumes[existing] = volume
            return existing
        }
        let type = t.string("volume_type") ?? "l_ssd"
        let volumeID = Identifier.make()
        let name = t.string("name") ?? "\(server.name)-vol-\(index)"
        try checkQuota("volumes", current: s.volumes.values.filter { $0.projectID == server.projectID }.count,
                       quota: s.quotas.volumes)
        switch type {
        case "l_ssd":
            var size = t.int64("size")
            if let snapshotID = t.string("base_snapshot") {
                guard let snap = s.snapshots[snapshotID], snap.zone == r.zone, snap.family == .instance else {
                    throw APIError.notFound("instance_snapshot", snapshotID)
                }
                guard snap.state == "available" else {
                    throw APIError.transientState("instance_snapshot", snapshotID, state: snap.state)
                }
                size = max(size ?? snap.size, snap.size)
                created.append((volumeID, snapshotID))
            } else {
                guard let given = size, given >= 1_000_000_000 else {
                    throw APIError.invalidRequest("Validation Error", fields: [field + ".size": ["size must be at least 1 GB"]])
                }
                try SparseFile.create(at: store.volumePath(volumeID), size: given)
            }
            var volume = VolumeRecord(
                id: volumeID, name: name, projectID: server.projectID, zone: r.zone, type: .lSSD, size: size ?? 0,
                tags: [], state: "available", parentSnapshotID: t.string("base_snapshot"), createdAt: now, modifiedAt: now)
            attach(&volume, to: server.id, at: now, durations: s.durations)
            s.volumes[volumeID] = volume
        case "sbs_volume":
            guard let size = t.int64("size"), size >= 1_000_000_000 else {
                throw APIError.invalidRequest("Validation Error", fields: [field + ".size": ["size must be at least 1 GB"]])
            }
            try SparseFile.create(at: store.volumePath(volumeID), size: size)
            let iops = t.int64("iops") ?? 5000
            var volume = VolumeRecord(
                id: volumeID, name: name, projectID: server.projectID, zone: r.zone,
                type: VolumeType(perfIOPS: iops) ?? .sbs5k, size: size, tags: [], state: "available",
                createdAt: now, modifiedAt: now)
            attach(&volume, to: server.id, at: now, durations: s.durations)
            s.volumes[volumeID] = volume
        default:
            throw APIError.invalidRequest("Validation Error", fields: [field + ".volume_type": ["unsupported volume type \(type)"]])
        }
        return volumeID
    }

    /// Attaches at once (l_ssd), or starts attaching (SBS: the reference is
    /// `attaching` until ``OperationRunner/runAttachment(_:)`` settles it).
    func attach(_ volume: inout VolumeRecord, to serverID: String, at now: Date, durations: SimDurations) {
        volume.serverID = serverID
        volume.modifiedAt = now
        if volume.type.isBlock {
            volume.reference = VolumeRecord.Reference(id: Identifier.make(), serverID: serverID, createdAt: now,
                                                      status: "attaching",
                                                      readyAt: now.addingTimeInterval(durations.blockVolumeAttach))
            volume.state = "in_use"
        }
    }

    /// Detaches at once (l_ssd), or starts detaching (SBS: the volume stays
    /// `in_use` and bound to the server until the reference is gone).
    func detach(_ volume: inout VolumeRecord, at now: Date, durations: SimDurations) {
        volume.modifiedAt = now
        guard volume.type.isBlock, var reference = volume.reference else {
            volume.serverID = nil
            return
        }
        reference.status = "detaching"
        reference.readyAt = now.addingTimeInterval(durations.blockVolumeDetach)
        volume.reference = reference
    }

    func updateServer(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        let changed = try store.mutate { s -> Set<String> in
            var server = try server(s, id, zone: r.zone)
            let now = Date()
            if let name = body.string("name") { server.name = name }
            if let tags = body.strings("tags") { server.tags = tags }
            if let p = body.bool("protected") { server.protected = p }
            if let d = body.bool("dynamic_ip_required") { server.dynamicIPRequired = d }
            if let type = body.string("commercial_type") {
                guard server.state == "stopped" else {
                    throw APIError.preconditionFailed("server_should_be_stopped",
                                                      help: "the commercial type can only change while the server is stopped")
                }
                server.commercialType = type
            }
            var changed: Set<String> = []
            if let map = body.object("volumes") {
                changed = try applyVolumesMap(map, to: &server, request: r, state: &s, at: now)
            }
            server.modifiedAt = now
            s.servers[id] = server
            return changed
        }
        settleAttachments(of: Array(changed))
        return json(200, ["server": renderServer(id)])
    }

    /// Applies a complete `volumes` map: indexes left out are detached;
    /// SBS volumes hot-plug, l_ssd changes need a stopped server. Returns the
    /// volumes attached or detached.
    private func applyVolumesMap(_ map: JSONObject, to server: inout ServerRecord, request r: APIRequest,
                                 state s: inout AccountState, at now: Date) throws -> Set<String> {
        if let transition = server.transition {
            throw APIError.transientState("instance_server", server.id, state: transition.action == "poweron" ? "starting" : server.state)
        }
        var wanted: [String: String] = [:]
        for (index, value) in map {
            guard Int(index) != nil, let entry = value as? JSONObject, let volumeID = entry.string("id") else {
                throw APIError.invalidRequest("Validation Error", fields: ["volumes.\(index)": ["a volume id is required"]])
            }
            guard let volume = s.volumes[volumeID], volume.zone == r.zone else {
                throw entry.string("volume_type") == "sbs_volume"
                    ? APIError.notFound("volume", volumeID) : APIError.notFound("instance_volume", volumeID)
            }
            if let owner = volume.serverID, owner != server.id {
                throw APIError.invalidRequest("Validation Error",
                                              fields: ["volumes.\(index)": ["volume \(volumeID) is attached to another server"]])
            }
            wanted[index] = volumeID
        }
        guard Set(wanted.values).count == wanted.count else {
            throw APIError.invalidRequest("Validation Error", fields: ["volumes": ["a volume appears twice"]])
        }
        let before = Set(server.volumes.values), after = Set(wanted.values)
        let changed = before.symmetricDifference(after)
        let localChange = changed.contains { s.volumes[$0]?.type == .lSSD }
            || wanted.contains { server.volumes[$0.key] != $0.value && s.volumes[$0.value]?.type == .lSSD }
        if localChange, server.state != "stopped" {
            throw APIError.preconditionFailed("server_should_be_stopped",
                                              help: "local volumes (l_ssd) can only be attached or detached while the server is stopped")
        }
        for volumeID in before.subtracting(after) {
            if var v = s.volumes[volumeID] { detach(&v, at: now, durations: s.durations); s.volumes[volumeID] = v }
        }
        for volumeID in after.subtracting(before) {
            if var v = s.volumes[volumeID] { attach(&v, to: server.id, at: now, durations: s.durations); s.volumes[volumeID] = v }
        }
        server.volumes = wanted
        return changed
    }

    func deleteServer(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let detached = try store.mutate { s -> [String] in
            let server = try server(s, id, zone: r.zone)
            guard server.state == "stopped" else {
                if server.transition != nil { throw APIError.transientState("instance_server", id, state: server.state) }
                throw APIError.preconditionFailed("server_should_be_stopped",
                                                  help: "stop the server (poweroff) before deleting it, or use the terminate action")
            }
            let now = Date()
            for volumeID in server.volumes.values {
                if var v = s.volumes[volumeID] { detach(&v, at: now, durations: s.durations); s.volumes[volumeID] = v }
            }
            s.servers[id] = nil
            return Array(server.volumes.values)
        }
        settleAttachments(of: detached)
        return noContent()
    }

    func serverAction(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        guard let action = body.string("action") else {
            throw APIError.invalidRequest("Validation Error", fields: ["action": ["required key not provided"]])
        }
        let known = ["poweron", "poweroff", "stop_in_place", "reboot", "terminate", "backup"]
        guard known.contains(action) else {
            throw APIError.invalidRequest("Validation Error", fields: ["action": ["value must be one of \(known)"]])
        }
        var backupSnapshots: [String] = []
        try store.mutate { s in
            var server = try server(s, id, zone: r.zone)
            if server.transition != nil { throw APIError.transientState("instance_server", id, state: server.state) }
            guard server.allowedActions.contains(action) else {
                throw APIError.invalidRequest("Action \(action) is not allowed on a server in state \(server.state)",
                                              resource: "instance_server")
            }
            let d = s.durations
            let now = Date()
            let (transient, target, seconds): (String, String, Double) = switch action {
            case "poweron": ("starting", "running", d.serverPowerOn)
            case "poweroff": ("stopping", "stopped", d.serverPowerOff)
            case "stop_in_place": ("stopping", "stopped in place", d.serverPowerOff)
            case "reboot": ("starting", "running", d.serverReboot)
            case "terminate": ("stopping", "stopped", d.serverTerminate)
            default: (server.state, server.state, 0)
            }
            if action == "backup" {
                backupSnapshots = try backupServer(server, request: r, state: &s, at: now)
                return
            }
            server.state = transient
            server.stateDetail = switch action {
            case "poweron": "provisioning node"
            case "reboot": "rebooting"
            case "terminate": "terminating"
            default: "stopping"
            }
            server.transition = ServerRecord.Transition(action: action, targetState: target,
                                                        readyAt: now.addingTimeInterval(seconds))
            server.modifiedAt = now
            s.servers[id] = server
        }
        for snapshotID in backupSnapshots { runner.runSnapshotOperation(snapshotID) }
        if backupSnapshots.isEmpty { runner.runServerTransition(id) }
        let task = InstanceRenderer.task(hrefFrom: "/servers/\(id)/action", hrefResult: "/servers/\(id)", zone: r.zone)
        return json(202, ["task": task])
    }

    /// `backup`: snapshots every volume of the server (l_ssd through the
    /// Instance service, SBS through Block), named `<server>-<date>-<index>`.
    private func backupServer(_ server: ServerRecord, request r: APIRequest, state s: inout AccountState,
                              at now: Date) throws -> [String] {
        var ids: [String] = []
        for index in server.sortedVolumeIndexes {
            guard let volumeID = server.volumes[index], var volume = s.volumes[volumeID] else { continue }
            let family: SnapshotRecord.Family = volume.type.isBlock ? .block : .instance
            let id = Identifier.make()
            let seconds = family == .instance ? s.durations.instanceSnapshot : s.durations.blockSnapshot
            let op = PendingOperation(kind: .snapshot, startedAt: now, readyAt: now.addingTimeInterval(seconds),
                                      sourceID: volumeID, finalState: "available")
            s.snapshots[id] = SnapshotRecord(
                id: id, name: "\(server.name)-\(Timestamp.instance(now))-\(index)", projectID: server.projectID,
                zone: r.zone, family: family, volumeType: volume.type, size: volume.size, tags: [],
                state: family == .instance ? "snapshotting" : "creating",
                baseVolume: .init(id: volumeID, name: volume.name, type: volume.type),
                createdAt: now, modifiedAt: now, isPublic: false, pending: op)
            if family == .instance {
                volume.state = "snapshotting"
                s.volumes[volumeID] = volume
            }
            ids.append(id)
        }
        return ids
    }

    func attachVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        guard let volumeID = body.string("volume_id") else {
            throw APIError.invalidRequest("Validation Error", fields: ["volume_id": ["required key not provided"]])
        }
        try store.mutate { s in
            var server = try server(s, id, zone: r.zone)
            guard var volume = s.volumes[volumeID], volume.zone == r.zone else {
                throw body.string("volume_type") == "sbs_volume" || body.string("volume_type") == nil
                    ? APIError.notFound("volume", volumeID) : APIError.notFound("instance_volume", volumeID)
            }
            guard volume.serverID == nil else {
                throw APIError.invalidRequest("Validation Error", fields: ["volume_id": ["volume \(volumeID) is already attached"]])
            }
            if volume.type == .lSSD, server.state != "stopped" {
                throw APIError.preconditionFailed("server_should_be_stopped",
                                                  help: "local volumes (l_ssd) can only be attached while the server is stopped")
            }
            if volume.state == "creating" { throw APIError.transientState("volume", volumeID, state: volume.state) }
            let now = Date()
            var index = 0
            while server.volumes[String(index)] != nil { index += 1 }
            server.volumes[String(index)] = volumeID
            server.modifiedAt = now
            attach(&volume, to: id, at: now, durations: s.durations)
            s.volumes[volumeID] = volume
            s.servers[id] = server
        }
        settleAttachments(of: [volumeID])
        return json(200, ["server": renderServer(id)])
    }

    func detachVolume(_ r: APIRequest, _ id: String) throws -> HTTPResponse {
        let body = try r.body()
        guard let volumeID = body.string("volume_id") else {
            throw APIError.invalidRequest("Validation Error", fields: ["volume_id": ["required key not provided"]])
        }
        try store.mutate { s in
            var server = try server(s, id, zone: r.zone)
            guard var volume = s.volumes[volumeID], volume.zone == r.zone else {
                throw APIError.notFound("instance_volume", volumeID)
            }
            guard let index = server.volumes.first(where: { $0.value == volumeID })?.key else {
                throw APIError.invalidRequest("Validation Error", fields: ["volume_id": ["volume \(volumeID) is not attached to this server"]])
            }
            if volume.type == .lSSD, server.state != "stopped" {
                throw APIError.preconditionFailed("server_should_be_stopped",
                                                  help: "local volumes (l_ssd) can only be detached while the server is stopped")
            }
            let now = Date()
            server.volumes[index] = nil
            server.modifiedAt = now
            detach(&volume, at: now, durations: s.durations)
            s.volumes[volumeID] = volume
            s.servers[id] = server
        }
        settleAttachments(of: [volumeID])
        return json(200, ["server": renderServer(id)])
    }

    /// Arms the timers that settle these volumes' `attaching`/`detaching` references.
    private func settleAttachments(of volumeIDs: [String]) {
        for id in volumeIDs { runner.runAttachment(id) }
    }

    static let defaultSecurityGroup = "5881315f-2400-43a0-ac75-08adf6cb8c12"

    static func hostname(_ name: String) -> String {
        String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
    }

    static func macAddress() -> String {
        let bytes = (0..<4).map { _ in UInt8.random(in: 0...255) }
        return "de:00:" + bytes.map { String(format: "%02x", $0) }.joined(separator: ":")
    }
}
