import Foundation

/// The initial content of a simulated account, read from a JSON seed file
/// (or one of the built-in seeds, ``Seed/demo`` and ``Seed/tiny``).
///
/// ```json
/// {"zone": "fr-par-1",
///  "projects": [{"id": "…", "name": "default"}],
///  "keys": [{"name": "full", "permission_sets": ["InstancesFullAccess", …], "expired": false}],
///  "buckets": [{"name": "staging", "region": "fr-par"}],
///  "servers": [{"name": "web-01", "state": "running", "volumes": {"0": {"name": "root", "type": "l_ssd",
///               "size": 10000000000, "content": [{"offset": 0, "length": 1048576, "seed": 1}]}}}],
///  "volumes": [], "faults": [], "quotas": {"servers": 50, "volumes": 200, "snapshots": 200}}
/// ```
/// Omitted ids and key secrets are generated when the state directory is
/// first seeded; project-less resources go to the first project.
public struct Seed: Sendable, Codable, Equatable {
    public struct Project: Sendable, Codable, Equatable {
        public var id: String?
        public var name: String
        public init(id: String? = nil, name: String) { self.id = id; self.name = name }
    }

    public struct Key: Sendable, Codable, Equatable {
        public var name: String
        public var accessKey: String?
        public var secretKey: String?
        public var projectID: String?
        public var permissionSets: [String]
        /// When true the key expired an hour before seeding.
        public var expired: Bool?
        public var expiresAt: Date?

        public init(name: String, accessKey: String? = nil, secretKey: String? = nil, projectID: String? = nil,
                    permissionSets: [String], expired: Bool? = nil, expiresAt: Date? = nil) {
            self.name = name
            self.accessKey = accessKey
            self.secretKey = secretKey
            self.projectID = projectID
            self.permissionSets = permissionSets
            self.expired = expired
            self.expiresAt = expiresAt
        }

        enum CodingKeys: String, CodingKey {
            case name, accessKey = "access_key", secretKey = "secret_key", projectID = "project_id"
            case permissionSets = "permission_sets", expired, expiresAt = "expires_at"
        }
    }

    public struct Bucket: Sendable, Codable, Equatable {
        public var name: String
        public var region: String?
        public var projectID: String?
        public init(name: String, region: String? = nil, projectID: String? = nil) {
            self.name = name
            self.region = region
            self.projectID = projectID
        }
        enum CodingKeys: String, CodingKey { case name, region, projectID = "project_id" }
    }

    public struct Volume: Sendable, Codable, Equatable {
        public var id: String?
        public var name: String
        public var type: VolumeType
        public var size: Int64
        public var zone: String?
        public var projectID: String?
        public var tags: [String]?
        public var content: [ContentRegion]?

        public init(id: String? = nil, name: String, type: VolumeType, size: Int64, zone: String? = nil,
                    projectID: String? = nil, tags: [String]? = nil, content: [ContentRegion]? = nil) {
            self.id = id
            self.name = name
            self.type = type
            self.size = size
            self.zone = zone
            self.projectID = projectID
            self.tags = tags
            self.content = content
        }
        enum CodingKeys: String, CodingKey { case id, name, type, size, zone, projectID = "project_id", tags, content }
    }

    public struct Server: Sendable, Codable, Equatable {
        public var id: String?
        public var name: String
        public var zone: String?
        public var projectID: String?
        public var commercialType: String?
        public var state: String?
        public var tags: [String]?
        /// Index (`"0"` is the root) -> volume.
        public var volumes: [String: Volume]

        public init(id: String? = nil, name: String, zone: String? = nil, projectID: String? = nil,
                    commercialType: String? = nil, state: String? = nil, tags: [String]? = nil,
                    volumes: [String: Volume]) {
            self.id = id
            self.name = name
            self.zone = zone
            self.projectID = projectID
            self.commercialType = commercialType
            self.state = state
            self.tags = tags
            self.volumes = volumes
        }
        enum CodingKeys: String, CodingKey {
            case id, name, zone, projectID = "project_id", commercialType = "commercial_type", state, tags, volumes
        }
    }

    public var zone: String?
    public var projects: [Project]
    public var keys: [Key]
    public var buckets: [Bucket]
    public var servers: [Server]
    public var volumes: [Volume]?
    public var faults: [FaultRule]?
    public var quotas: Quotas?

    public init(zone: String? = nil, projects: [Project], keys: [Key], buckets: [Bucket], servers: [Server],
                volumes: [Volume]? = nil, faults: [FaultRule]? = nil, quotas: Quotas? = nil) {
        self.zone = zone
        self.projects = projects
        self.keys = keys
        self.buckets = buckets
        self.servers = servers
        self.volumes = volumes
        self.faults = faults
        self.quotas = quotas
    }

    /// Reads a seed file.
    public static func load(path: String) throws -> Seed {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(Seed.self, from: data)
    }

    /// `demo`, `tiny`, or a path to a seed file.
    public static func named(_ nameOrPath: String) throws -> Seed {
        switch nameOrPath {
        case "demo": return .demo
        case "tiny": return .tiny
        default: return try load(path: nameOrPath)
        }
    }
}
