import Crypto
import Foundation
import Synchronization
@testable import ScalewaySimulator

/// A file-backed ``ObjectStorage`` for driving the APIs without the S3 listener.
final class DirectoryObjectStorage: ObjectStorage {
    let directory: String
    private let index = Mutex<(buckets: [String: BucketInfo], objects: [String: StoredObject])>(([:], [:]))

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func createBucket(_ bucket: BucketInfo) { index.withLock { $0.buckets[bucket.name] = bucket } }
    func bucket(named name: String) -> BucketInfo? { index.withLock { $0.buckets[name] } }
    func object(bucket: String, key: String) -> StoredObject? { index.withLock { $0.objects[bucket + "/" + key] } }
    var allObjects: [StoredObject] { index.withLock { Array($0.objects.values) } }

    @discardableResult
    func putObject(bucket: String, key: String, contentsOf file: String, contentType: String,
                   partSize: Int64?) throws -> StoredObject {
        // Streams: images and test disks can be large (and sparse).
        let path = directory + "/" + UUID().uuidString
        try SparseFile.copy(from: file, to: path)
        let size = try SparseFile.size(of: path)
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        let part = Int(partSize ?? max(size, 1))
        var partDigests: [UInt8] = []
        var parts = 0
        let whole = Digest(.md5)
        while true {
            let partDigest = Digest(.md5)
            var read = 0
            while read < part {
                guard let chunk = try handle.read(upToCount: min(1 << 20, part - read)), !chunk.isEmpty else { break }
                partDigest.update(chunk)
                whole.update(chunk)
                read += chunk.count
            }
            if read == 0 && parts > 0 { break }
            partDigests += partDigest.finalize()
            parts += 1
            if read < part { break }
        }
        var etag = Hex.encode(whole.finalize())
        if partSize != nil { etag = Hex.encode(Digest.md5(partDigests)) + "-\(parts)" }
        let object = StoredObject(bucket: bucket, key: key, size: size, etag: "\"\(etag)\"",
                                  contentType: contentType, lastModified: Date(), path: path)
        index.withLock { $0.objects[bucket + "/" + key] = object }
        return object
    }

    func deleteObject(bucket: String, key: String) {
        if let o = index.withLock({ $0.objects.removeValue(forKey: bucket + "/" + key) }) { unlink(o.path) }
    }

    var inventory: ObjectInventory {
        ObjectInventory(createBucket: { [self] in createBucket($0) },
                        buckets: { [self] in index.withLock { Array($0.buckets.values) } },
                        objects: { [self] in allObjects }, multipartUploads: { [] })
    }
}

/// A decoded API answer.
struct APIAnswer {
    var status: Int
    var headers: HTTPHeaders
    var bytes: [UInt8]
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any] ?? [:] }
    subscript(_ key: String) -> Any? { json[key] }
}

struct Timeout: Error, CustomStringConvertible {
    var what: String
    var description: String { "timed out waiting for \(what)" }
}

/// A simulator core on a temporary state directory, driven in-process.
final class APIHarness {
    let directory: String
    let objects: DirectoryObjectStorage
    var core: SimulatorCore
    let seed: Seed

    init(seed: Seed = .tiny, durations: SimDurations = .fast) throws {
        directory = NSTemporaryDirectory() + "scw-sim-api-" + UUID().uuidString
        objects = try DirectoryObjectStorage(directory: directory + "/objects")
        self.seed = seed
        core = try SimulatorCore(stateDirectory: directory + "/state", seed: seed, objects: objects,
                                 inventory: objects.inventory, durations: durations, codec: QCOW2Codec(),
                                 faults: FaultInjector())
    }

    deinit {
        core.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Stops and reopens the account from its state directory.
    func restart(durations: SimDurations? = nil) throws {
        core.stop()
        core = try SimulatorCore(stateDirectory: directory + "/state", seed: seed, objects: objects,
                                 inventory: objects.inventory, durations: durations, codec: QCOW2Codec(),
                                 faults: FaultInjector())
    }

    var keys: [APIKey] { core.store.read(\.keys) }
    var fullKey: APIKey { keys[0] }
    var projectID: String { core.store.read(\.projects)[0].id }
    var zone: String { "fr-par-1" }

    @discardableResult
    func call(_ method: String, _ path: String, _ body: Any? = nil, key: APIKey? = nil, token: String? = nil,
              remote: String = "127.0.0.1") -> APIAnswer {
        var headers = HTTPHeaders()
        if let secret = token ?? (key ?? fullKey).secretKey as String? { headers.add("X-Auth-Token", secret) }
        let parts = path.split(separator: "?", maxSplits: 1).map(String.init)
        var requestBody = HTTPRequestBody.none
        if let body {
            let data = try! JSONSerialization.data(withJSONObject: body)
            requestBody = .bytes(Array(data))
            headers.add("Content-Type", "application/json")
        }
        let request = HTTPRequest(method: method, rawPath: parts[0], rawQuery: parts.count > 1 ? parts[1] : "",
                                  headers: headers, body: requestBody, remoteAddress: remote)
        let response = core.api.handle(request)
        var bytes: [UInt8] = []
        switch response.body {
        case .none: break
        case let .bytes(b): bytes = b
        case let .file(path, offset, length):
            let handle = FileHandle(forReadingAtPath: path)!
            try! handle.seek(toOffset: UInt64(offset))
            bytes = Array(handle.readData(ofLength: Int(length)))
        }
        return APIAnswer(status: response.status, headers: response.headers, bytes: bytes)
    }

    func instance(_ path: String) -> String { "/instance/v1/zones/\(zone)\(path)" }
    func block(_ path: String, version: String = "v1") -> String { "/block/\(version)/zones/\(zone)\(path)" }

    /// Polls `condition` (no fixed sleeps: a short yield between checks) until it holds or `timeout` passes.
    func wait(_ what: String, timeout: Double = 20, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { throw Timeout(what: what) }
            usleep(2_000)
        }
    }

    /// Waits until the resource at `path` has `field` == `value` (e.g. state available).
    func waitState(_ path: String, _ wrapper: String?, _ field: String, _ value: String, timeout: Double = 30) throws {
        try wait("\(path) \(field)=\(value)", timeout: timeout) {
            let answer = call("GET", path)
            let object = wrapper.map { answer.json[$0] as? [String: Any] ?? [:] } ?? answer.json
            return object[field] as? String == value
        }
    }

    func server(named name: String) -> [String: Any] {
        let list = call("GET", instance("/servers?name=\(name)"))["servers"] as? [[String: Any]] ?? []
        return list.first { $0["name"] as? String == name } ?? [:]
    }

    func volumeID(_ server: [String: Any], _ index: String) -> String {
        ((server["volumes"] as? [String: Any])?[index] as? [String: Any])?["id"] as? String ?? ""
    }

    func digest(volume id: String) -> String { call("GET", "/_sim/volumes/\(id)/digest")["sha256"] as? String ?? "" }
}
