import Foundation
import Logging

/// The Scaleway REST APIs of the simulator: Instance v1 under
/// `/instance/v1/zones/{zone}`, Block Storage under `/block/v1/zones/{zone}`
/// and `/block/v1alpha1/zones/{zone}`, and the control API under `/_sim/`.
///
/// Called on the HTTP server's worker threads; all state goes through
/// ``AccountStore``'s lock, long work through ``OperationRunner``.
final class ScalewayAPI: HTTPHandler {
    let store: AccountStore
    let runner: OperationRunner
    let objects: any ObjectStorage
    let faults: any FaultRegistry
    let control: ControlAPI
    let logger = Logger(label: "scw-sim.api")

    init(store: AccountStore, runner: OperationRunner, objects: any ObjectStorage, faults: any FaultRegistry,
         control: ControlAPI) {
        self.store = store
        self.runner = runner
        self.objects = objects
        self.faults = faults
        self.control = control
    }

    func handle(_ request: HTTPRequest) -> HTTPResponse {
        var response: HTTPResponse
        let path = request.path
        if path == "/_sim" || path.hasPrefix("/_sim/") {
            response = control.handle(request)
        } else {
            do {
                response = try route(request)
            } catch let error as APIError {
                response = error.response()
            } catch {
                logger.error("\(request.method) \(path): \(error)")
                response = APIError(status: 500, body: ["type": "internal_error", "message": "internal error"]).response()
            }
        }
        response.headers.set("X-Request-Id", Identifier.make())
        logger.debug("\(request.method) \(path) -> \(response.status)")
        return response
    }

    private func route(_ http: HTTPRequest) throws -> HTTPResponse {
        let parts = http.path.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        guard parts.count >= 4, parts[2] == "zones" else { throw APIError.unknownRoute(http.path) }
        let product: String
        switch (parts[0], parts[1]) {
        case ("instance", "v1"): product = "instance"
        case ("block", "v1"), ("block", "v1alpha1"): product = "block"
        default: throw APIError.unknownRoute(http.path)
        }
        let key = try authenticate(http)
        let zone = parts[3]
        guard Zone.isValid(zone) else {
            throw APIError.invalidArgument("zone", reason: "constraint",
                                           help: "zone must be one of \(Zone.all.joined(separator: ", "))")
        }
        let segments = Array(parts.dropFirst(4))
        try authorize(key, product: product, method: http.method, segments: segments)
        let request = try APIRequest(http: http, key: key, zone: zone, segments: segments,
                                     basePath: "/" + parts[0..<4].joined(separator: "/"))
        return product == "instance" ? try instanceRoute(request) : try blockRoute(request)
    }

    /// `X-Auth-Token` must be the secret key of a known, unexpired key.
    private func authenticate(_ http: HTTPRequest) throws -> APIKey {
        guard let token = http.headers["X-Auth-Token"], !token.isEmpty else {
            throw APIError.deniedAuthentication("invalid_argument")
        }
        guard UUID(uuidString: token) != nil else { throw APIError.deniedAuthentication("invalid_argument") }
        guard let key = store.key(secretKey: token) else { throw APIError.deniedAuthentication("not_found") }
        guard !key.isExpired() else { throw APIError.deniedAuthentication("expired") }
        return key
    }

    /// Instance calls need `InstancesFullAccess` (reads: or
    /// `InstancesReadOnly`); Block calls `BlockStorageFullAccess` (or
    /// `BlockStorageReadOnly`).
    private func authorize(_ key: APIKey, product: String, method: String, segments: [String]) throws {
        let (full, readOnly) = product == "instance"
            ? ("InstancesFullAccess", "InstancesReadOnly")
            : ("BlockStorageFullAccess", "BlockStorageReadOnly")
        let isRead = method == "GET" || method == "HEAD"
        if key.permissionSets.contains(full) || (isRead && key.permissionSets.contains(readOnly)) { return }
        let resource = product == "instance"
            ? "instance_" + String((segments.first ?? "servers").dropLast())
            : "block_" + String((segments.first ?? "volumes").dropLast())
        let action: String = switch method {
        case "GET", "HEAD": "read"
        case "DELETE": "delete"
        case "POST" where segments.count == 1: "create"
        default: "write"
        }
        throw APIError.permissionsDenied(resource: resource, action: action)
    }

    // MARK: Shared helpers

    func json(_ status: Int, _ value: Any, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        .json(status, JSONBody.encode(value), headers: headers)
    }

    func noContent() -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.set("Content-Type", "application/json")
        return HTTPResponse(status: 204, headers: headers)
    }

    /// Draws the asynchronous fault (if any) for an operation started by `request`.
    func drawFault(_ request: APIRequest) -> FaultRule? {
        faults.evaluate(service: "api", method: request.method, path: request.http.path, actions: FaultRule.Action.asynchronous)
    }

    /// Checks the bucket an export or import names: it must exist, be in the
    /// zone's region and belong to the caller's project.
    func checkBucket(_ name: String?, request: APIRequest, projectID: String,
                     error: (String, String) -> APIError) throws -> BucketInfo {
        guard let name, !name.isEmpty else { throw error("bucket", "bucket is required") }
        guard let bucket = objects.bucket(named: name) else { throw error("bucket", "bucket \(name) does not exist") }
        guard bucket.region == request.region else {
            throw error("bucket", "bucket \(name) is in region \(bucket.region), not in \(request.region)")
        }
        guard bucket.projectID == projectID else {
            throw error("bucket", "bucket \(name) does not belong to project \(projectID)")
        }
        return bucket
    }

    /// Import and export sizes: 1 GB .. 1 TB.
    static let imageSizeRange: ClosedRange<Int64> = 1_000_000_000...1_000_000_000_000

    /// Puts the 0-byte `application/x-qemu-disk` object the real service
    /// shows at the key while an export runs.
    func putExportPlaceholder(bucket: String, key: String) throws {
        let path = store.temporaryPath(".placeholder")
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw SparseFileError(operation: "create", path: path, errno: errno)
        }
        defer { unlink(path) }
        try objects.putObject(bucket: bucket, key: key, contentsOf: path, contentType: "application/x-qemu-disk",
                              partSize: nil)
    }

    func checkQuota(_ resource: String, current: Int, quota: Int) throws {
        if current >= quota { throw APIError.quotasExceeded(resource: resource, quota: quota, current: current) }
    }

    /// Tags from a `tags` query parameter (comma separated); a resource matches when it has all.
    static func matchesTags(_ tags: [String], query: String?) -> Bool {
        guard let query else { return true }
        return query.split(separator: ",").allSatisfy { tags.contains(String($0)) }
    }
}
