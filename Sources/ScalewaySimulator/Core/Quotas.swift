/// Per-project resource quotas; exceeding one answers `quotas_exceeded`.
public struct Quotas: Sendable, Codable, Equatable {
    public var servers: Int
    public var volumes: Int
    public var snapshots: Int

    public init(servers: Int = 50, volumes: Int = 200, snapshots: Int = 200) {
        self.servers = servers
        self.volumes = volumes
        self.snapshots = snapshots
    }
}
