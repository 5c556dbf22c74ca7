/// SBS attachments settle asynchronously.
///
/// Attaching a Block volume to a server (server creation, the volumes map,
/// attach-volume) answers at once, with the volume `in_use`, its Block
/// reference `attaching` and the server's entry `attaching`; only later is
/// the reference `attached` (the entry `available`). Detaching is the same:
/// the reference is `detaching` and the volume stays `in_use` (it can
/// neither be deleted nor attached elsewhere) until the volume is
/// `available`. A restore waits for both before it powers on, reports an
/// instance as restored, or deletes a volume it detached.
extension Poller {
    /// Waits until no SBS volume of server `serverID` is still `attaching`.
    @discardableResult
    func waitForAttachments(of serverID: String, zone: Zone, compute: any ComputeAPI,
                            timeout: Duration) async throws -> CloudServer {
        try await poll("the SBS volumes of instance \(serverID) to be attached", timeout: timeout,
                       reading: "instance \(serverID)", permissionSet: PermissionSet.instances) {
            try await compute.getServer(zone: zone, id: serverID)
        } until: { server in
            !server.volumes.values.contains { $0.volumeType == "sbs_volume" && $0.state == "attaching" }
        }
    }

    /// Waits until SBS volume `volumeID` is detached from every server
    /// (`available`, or `error` for a volume whose creation failed: it can be deleted).
    @discardableResult
    func waitForDetachment(of volumeID: String, zone: Zone, compute: any ComputeAPI,
                           timeout: Duration) async throws -> CloudVolume {
        try await poll("SBS volume \(volumeID) to be detached", timeout: timeout,
                       reading: "volume \(volumeID)", permissionSet: PermissionSet.block) {
            try await compute.getBlockVolume(zone: zone, id: volumeID)
        } until: { volume in
            volume.serverID == nil && volume.status != "in_use"
        }
    }

    /// Reads `fetch` (errors named after `reading`) until `done` holds; returns what was read last.
    private func poll<R: Sendable>(_ describe: String, timeout: Duration, reading: String, permissionSet: String,
                                   fetch: @escaping @Sendable () async throws -> R,
                                   until done: @escaping @Sendable (R) -> Bool) async throws -> R {
        try await wait(timeout: timeout, describe: describe) {
            try await CloudFailure.attempt("read \(reading)", permissionSet: permissionSet) { try await fetch() }
        } until: { (value: R) -> R? in done(value) ? value : nil }
    }
}
