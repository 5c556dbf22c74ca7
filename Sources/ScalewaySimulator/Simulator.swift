import Foundation
import Logging

/// A faithful local Scaleway: the Instance and Block Storage REST APIs (and
/// the `/_sim/` control API) on one listener, Object Storage (S3) on
/// another, both on 127.0.0.1, over one simulated account kept in a state
/// directory.
///
/// Tests start it in-process:
/// ```swift
/// let sim = try Simulator.start(stateDirectory: dir, seed: .tiny, durations: .fast)
/// defer { sim.stop() }
/// let api = sim.endpoints.apiURL   // http://127.0.0.1:PORT
/// ```
/// `scw-sim` wraps the same type for other processes.
public final class Simulator: Sendable {
    /// One seeded API key as the startup line lists it.
    public struct KeyInfo: Sendable, Codable, Equatable {
        public var name: String
        public var accessKey: String
        public var secretKey: String
        public var projectID: String
        public var permissionSets: [String]
        public var expired: Bool

        enum CodingKeys: String, CodingKey {
            case name, accessKey = "access_key", secretKey = "secret_key", projectID = "project_id"
            case permissionSets = "permission_sets", expired
        }
    }

    /// Where the simulator listens and what the account holds: the JSON
    /// object `scw-sim` prints as its first stdout line.
    public struct Endpoints: Sendable, Codable, Equatable {
        /// Base URL of the REST APIs, e.g. `http://127.0.0.1:40123`.
        public var apiURL: String
        /// Object Storage endpoint (path-style or virtual-host addressing).
        public var s3Endpoint: String
        public var zone: String
        public var region: String
        public var projectID: String
        public var organizationID: String
        /// The staging bucket (the first seeded bucket).
        public var bucket: String?
        public var keys: [KeyInfo]
        /// The CA certificate to trust, with `--tls`.
        public var caFile: String?
        public var stateDirectory: String

        enum CodingKeys: String, CodingKey {
            case apiURL = "api_url", s3Endpoint = "s3_endpoint", zone, region, projectID = "project_id"
            case organizationID = "organization_id", bucket, keys, caFile = "ca_file"
            case stateDirectory = "state_dir"
        }

        /// The single-line JSON form.
        public func jsonLine() -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return (try? String(decoding: encoder.encode(self), as: UTF8.self)) ?? "{}"
        }
    }

    public let endpoints: Endpoints
    let core: SimulatorCore
    let objectStore: ObjectStore
    private let apiServer: HTTPServer
    private let s3Server: HTTPServer

    private init(endpoints: Endpoints, core: SimulatorCore, objectStore: ObjectStore, apiServer: HTTPServer,
                 s3Server: HTTPServer) {
        self.endpoints = endpoints
        self.core = core
        self.objectStore = objectStore
        self.apiServer = apiServer
        self.s3Server = s3Server
    }

    /// Opens (or seeds) the account in `stateDirectory` and starts both listeners.
    ///
    /// - Parameters:
    ///   - stateDirectory: holds `state.json`, volume and snapshot contents,
    ///     objects, uploads and TLS material; reused across restarts.
    ///   - seed: the account to create when the directory is empty.
    ///   - port: the API listener's port (0: ephemeral). `s3Port` likewise.
    ///   - tls: serve HTTPS with a certificate from a CA generated into the
    ///     state directory (`endpoints.caFile`).
    ///   - durations: operation durations; `nil` keeps the saved ones (new
    ///     accounts: ``SimDurations/fast``).
    public static func start(stateDirectory: String, seed: Seed = .tiny, port: UInt16 = 0, s3Port: UInt16 = 0,
                             tls: Bool = false, durations: SimDurations? = nil) throws -> Simulator {
        let root = URL(fileURLWithPath: stateDirectory).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let objectStore = try ObjectStore(directory: root + "/objects")
        let inventory = ObjectInventory(
            createBucket: { try objectStore.createBucket($0) },
            buckets: { objectStore.buckets },
            objects: { objectStore.allObjects },
            multipartUploads: {
                objectStore.multipartUploads.map {
                    ["bucket": $0.bucket, "key": $0.key, "upload_id": $0.uploadID,
                     "initiated": Timestamp.block($0.initiated), "parts": String($0.partCount),
                     "bytes": String($0.bytes)]
                }
            })
        let faults = FaultInjector()
        let core = try SimulatorCore(stateDirectory: root + "/account", seed: seed, objects: objectStore,
                                     inventory: inventory, durations: durations, codec: QCOW2Codec(), faults: faults)
        do {
            let material = tls ? try TLSMaterial.loadOrGenerate(in: root + "/tls") : nil
            let apiServer = try HTTPServer(
                configuration: HTTPServerConfiguration(service: "api", port: port, uploadDirectory: root + "/uploads", tls: material),
                handler: core.api, faults: faults)
            let (state, defaultZone) = core.store.read { ($0, $0.defaultZone) }
            let region = Zone.region(of: defaultZone)
            let s3 = S3Service(store: objectStore, keys: core.store, region: region)
            let s3Server: HTTPServer
            do {
                s3Server = try HTTPServer(
                    configuration: HTTPServerConfiguration(service: "s3", port: s3Port, uploadDirectory: root + "/uploads",
                                                           tls: material),
                    handler: s3, faults: faults)
            } catch {
                apiServer.stop()
                throw error
            }
            let keys = state.keys.map {
                KeyInfo(name: $0.description ?? "", accessKey: $0.accessKey, secretKey: $0.secretKey, projectID: $0.projectID,
                        permissionSets: $0.permissionSets.sorted(), expired: $0.isExpired())
            }
            let endpoints = Endpoints(
                apiURL: apiServer.baseURL, s3Endpoint: s3Server.baseURL, zone: defaultZone, region: region,
                projectID: state.projects.first?.id ?? "", organizationID: state.organizationID,
                bucket: state.buckets.first?.name, keys: keys, caFile: material?.caFile, stateDirectory: root)
            Logger(label: "scw-sim").info("API on \(endpoints.apiURL), Object Storage on \(endpoints.s3Endpoint), state in \(root)")
            return Simulator(endpoints: endpoints, core: core, objectStore: objectStore, apiServer: apiServer, s3Server: s3Server)
        } catch {
            core.stop()
            throw error
        }
    }

    /// The scripted faults (also reachable through `/_sim/faults`).
    public var faults: FaultInjector { core.faults }

    /// Stops both listeners, then the operation runner. In-flight operations
    /// resume when the state directory is opened again.
    public func stop() {
        apiServer.stop()
        s3Server.stop()
        core.stop()
    }
}
