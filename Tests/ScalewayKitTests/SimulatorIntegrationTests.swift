import Crypto
import Foundation
import Synchronization
import Testing
@testable import ScalewayKit
import ScalewaySimulator

/// Every call the flows use, against the project's Scaleway simulator, over
/// HTTP and HTTPS, with fault injection.
@Suite struct SimulatorIntegrationTests {
    /// A running in-process simulator (tiny seed, fast durations) and clients on it.
    final class Environment: @unchecked Sendable {
        // @unchecked Sendable invariant: immutable after init.
        let directory: String
        let simulator: Simulator
        let session: ScalewaySession
        let storage: ObjectStorageClient
        let zone: ScalewayKit.Zone
        let project: String
        let bucket: String

        /// Starts a simulator on a dedicated thread (starting one blocks on files and key generation).
        static func start(tls: Bool, key: Int = 0, trustCA: Bool = true, secretOverride: String? = nil) async throws -> Environment {
            try await BlockingWork.run { try Environment(tls: tls, key: key, trustCA: trustCA, secretOverride: secretOverride) }
        }

        private init(tls: Bool, key: Int, trustCA: Bool, secretOverride: String?) throws {
            directory = NSTemporaryDirectory() + "sim-\(UUID().uuidString)"
            simulator = try Simulator.start(stateDirectory: directory, seed: .tiny, tls: tls, durations: .fast)
            let endpoints = simulator.endpoints
            let info = endpoints.keys[key]
            let credentials = ScalewayCredentials(accessKey: info.accessKey, secretKey: secretOverride ?? info.secretKey)
            let fastWait = WaitPolicy(interval: .milliseconds(20), backoff: 1.5, maxInterval: .milliseconds(200), timeout: .seconds(120))
            session = try ScalewaySession(
                credentials: credentials,
                endpoints: ScalewayEndpoints(apiURL: endpoints.apiURL, s3Endpoint: endpoints.s3Endpoint),
                transport: TransportConfiguration(tls: TLSConfiguration(extraCAFile: trustCA ? endpoints.caFile : nil)),
                apiOptions: APIClientOptions(retry: RetryPolicy(maxAttempts: 5, initialDelay: .milliseconds(20), maxDelay: .milliseconds(200)),
                                             wait: fastWait, transferWait: fastWait, transientStateWait: fastWait),
                objectStorageOptions: ObjectStorageOptions(retry: RetryPolicy(maxAttempts: 5, initialDelay: .milliseconds(20)),
                                                           partSize: PartSizePolicy(preferredPartSize: 5 << 20), uploadConcurrency: 3,
                                                           downloadRangeSize: 1 << 20))
            zone = ScalewayKit.Zone(rawValue: endpoints.zone)!
            project = endpoints.projectID
            bucket = endpoints.bucket ?? "plakar-staging"
            storage = try session.objectStorage(region: zone.region)
        }

        /// SHA-256 of a simulated volume's content, from the control API.
        func volumeDigest(_ id: String) async throws -> String {
            let response = try await session.transport.send(ScalewayKit.HTTPRequest(method: .get, url: "\(simulator.endpoints.apiURL)/_sim/volumes/\(id)/digest"))
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            return object?["sha256"] as? String ?? "missing: \(String(decoding: response.body, as: UTF8.self))"
        }

        /// How many times each installed fault rule fired, by `path_contains`.
        func faultsFired() async throws -> [String: Int] {
            let response = try await session.transport.send(ScalewayKit.HTTPRequest(method: .get, url: "\(simulator.endpoints.apiURL)/_sim/faults"))
            let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            var fired: [String: Int] = [:]
            for rule in object?["faults"] as? [[String: Any]] ?? [] {
                let path = (rule["path_contains"] ?? rule["pathContains"]) as? String ?? "?"
                fired[path, default: 0] += rule["fired"] as? Int ?? 0
            }
            return fired
        }

        /// Stops the simulator on a dedicated thread: stopping joins its
        /// listener threads, which must not block the cooperative pool.
        func stop() {
            let simulator = simulator, directory = directory
            Thread.detachNewThread {
                simulator.stop()
                try? FileManager.default.removeItem(atPath: directory)
            }
        }

    }

    @Test(arguments: [false, true])
    func backupAndRestoreCallsEndToEnd(tls: Bool) async throws {
        let env = try await Environment.start(tls: tls)
        defer { env.stop() }
        let instance = env.session.instance, block = env.session.block, snapshots = env.session.snapshots

        // Discover the instance and its volumes.
        let servers = try await instance.listServers(zone: env.zone, filter: InstanceListFilter(name: "web-01"))
        let server = try #require(servers.first { $0.name == "web-01" })
        #expect(try await instance.getServer(zone: env.zone, id: server.id).id == server.id)
        let volumes = server.sortedVolumes
        #expect(volumes.count >= 2)
        #expect(volumes.contains { $0.volume.family == .localSSD } && volumes.contains { $0.volume.family == .blockStorage })
        for entry in volumes where entry.volume.family == .blockStorage {
            let detail = try await block.getVolume(zone: env.zone, id: entry.volume.id)
            #expect(detail.size ?? 0 > 0 && detail.specs?.perfIOPS != nil)
            let notInstance = await #expect(throws: ScalewayAPIError.self) { _ = try await instance.getVolume(zone: env.zone, id: entry.volume.id) }
            #expect(notInstance?.isNotFound == true && notInstance?.resource == "instance_volume")
        }

        // Snapshot every volume together, export each, then read the images back.
        var images: [(entry: (index: String, volume: InstanceServerVolume), key: String, size: Int64, reference: SnapshotReference)] = []
        let references = try await withThrowingTaskGroup(of: (String, SnapshotReference).self) { group in
            for entry in volumes {
                group.addTask {
                    (entry.index, try await snapshots.create(zone: env.zone, volumeID: entry.volume.id, family: entry.volume.family,
                                                             name: "kit-\(entry.index)", project: env.project, tags: ["plakar-test"]))
                }
            }
            var all: [String: SnapshotReference] = [:]
            for try await (index, reference) in group { all[index] = reference }
            return all
        }
        for entry in volumes {
            let reference = try #require(references[entry.index])
            try await snapshots.waitUntilAvailable(reference)
            let key = "kit/\(tls ? "tls" : "plain")/\(entry.index)-\(entry.volume.id).qcow2"
            try await snapshots.export(reference, bucket: env.bucket, key: key)
            let meta = try await env.storage.headObject(bucket: env.bucket, key: key)
            #expect(meta.contentLength > 0)
            let magic = try await env.storage.getObjectBytes(bucket: env.bucket, key: key, range: ByteRange(offset: 0, length: 4))
            #expect(magic == [0x51, 0x46, 0x49, 0xfb])
            images.append((entry, key, meta.contentLength, reference))
        }
        let staged = try await env.storage.listObjects(bucket: env.bucket, prefix: "kit/")
        #expect(staged.count == volumes.count)

        // Restore: push each image through a streaming writer, import it, make volumes, a server.
        var templates: [String: ServerVolumeTemplate] = [:]
        var restoredBlockVolumes: [(original: String, restored: String)] = []
        for image in images {
            let restoredKey = image.key.replacingOccurrences(of: "kit/", with: "restore/")
            let writer = env.storage.makeMultipartWriter(bucket: env.bucket, key: restoredKey, expectedSize: image.size,
                                                         contentType: "application/x-qemu-disk")
            let chunkSize: Int64 = 1 << 20
            var offset: Int64 = 0
            while offset < image.size {
                let length = min(chunkSize, image.size - offset)
                try await writer.append(try await env.storage.getObjectBytes(bucket: env.bucket, key: image.key,
                                                                             range: ByteRange(offset: offset, length: length)))
                offset += length
            }
            let upload = try await writer.finish()
            #expect(upload.size == image.size)
            let family = image.entry.volume.family
            let imported = try await snapshots.importImage(zone: env.zone, family: family, bucket: env.bucket, key: restoredKey,
                                                           name: "kit-restore-\(image.entry.index)", project: env.project)
            #expect(imported.state == "available")
            switch family {
            case .blockStorage:
                let volume = try await block.createVolume(zone: env.zone, CreateBlockVolumeRequest(
                    name: "kit-vol-\(image.entry.index)", perfIOPS: 5000, projectID: env.project,
                    source: .snapshot(id: imported.reference.id, size: nil)))
                _ = try await block.waitForVolume(zone: env.zone, id: volume.id)
                templates[image.entry.index] = .blockVolume(id: volume.id)
                restoredBlockVolumes.append((image.entry.volume.id, volume.id))
            default:
                templates[image.entry.index] = .localVolumeFromSnapshot(name: "kit-vol-\(image.entry.index)", snapshotID: imported.reference.id)
            }
        }
        for pair in restoredBlockVolumes {
            #expect(try await env.volumeDigest(pair.restored) == (try await env.volumeDigest(pair.original)))
        }
        let created = try await instance.createServer(zone: env.zone, CreateServerRequest(
            name: "kit-restored", commercialType: server.commercialType ?? "DEV1-S", project: env.project, tags: ["plakar-test"],
            volumes: templates))
        #expect(created.state == "stopped" && created.volumes?.count == templates.count)
        try await instance.performAction(zone: env.zone, serverID: created.id, action: .powerOn)
        _ = try await instance.waitForServer(zone: env.zone, id: created.id, until: ["running"])
        try await instance.performAction(zone: env.zone, serverID: created.id, action: .powerOff)
        _ = try await instance.waitForServer(zone: env.zone, id: created.id, until: ["stopped"])

        // Hot-plug one more SBS volume, detach it, and PATCH the map back.
        let extra = try await block.createVolume(zone: env.zone, CreateBlockVolumeRequest(
            name: "kit-extra", perfIOPS: 15000, projectID: env.project, source: .empty(size: 1_000_000_000)))
        _ = try await block.waitForVolume(zone: env.zone, id: extra.id)
        let attached = try await instance.attachVolume(zone: env.zone, serverID: created.id, volumeID: extra.id, family: .blockStorage)
        #expect(attached.volumes?.values.contains { $0.id == extra.id } == true)
        let detached = try await instance.detachVolume(zone: env.zone, serverID: created.id, volumeID: extra.id)
        #expect(detached.volumes?.values.contains { $0.id == extra.id } == false)
        let patched = try await instance.updateServerVolumes(zone: env.zone, serverID: created.id, volumes: templates.filter { $0.key == "0" }.mapValues {
            if case .blockVolume(let id) = $0 { return .blockVolume(id: id) }
            let current = detached.volumes?["0"]
            return .localVolume(id: current?.id ?? "", name: current?.name)
        })
        #expect(patched.volumes?.count == 1)

        // Clean up: snapshots (both APIs), staged objects, the extra volume.
        for image in images { try await snapshots.delete(image.reference) }
        for image in images { try await snapshots.delete(image.reference) }  // twice: already gone is fine
        // Detaching is asynchronous (`detaching`, the volume `in_use`): wait for `available` first.
        _ = try await block.waitForVolume(zone: env.zone, id: extra.id, until: ["available"])
        try await block.deleteVolume(zone: env.zone, id: extra.id)
        let keys = try await env.storage.listObjects(bucket: env.bucket).map(\.key).filter { $0.hasPrefix("kit/") || $0.hasPrefix("restore/") }
        #expect(try await env.storage.deleteObjects(bucket: env.bucket, keys: keys).isEmpty)
        #expect(try await env.storage.listObjects(bucket: env.bucket, prefix: "kit/").isEmpty)
        #expect(try await env.storage.listMultipartUploads(bucket: env.bucket).isEmpty)
        let leftovers = try await instance.listSnapshots(zone: env.zone, filter: InstanceListFilter(project: env.project))
        #expect(!leftovers.contains { $0.name?.hasPrefix("kit-") == true && $0.baseVolume != nil })
    }

    @Test func faultsAreAbsorbed() async throws {
        let env = try await Environment.start(tls: false)
        defer { env.stop() }
        // A 429 storm on the API.
        env.simulator.faults.install(FaultRule(service: "api", pathContains: "/servers", action: .rateLimit, count: 3))
        let servers = try await env.session.instance.listServers(zone: env.zone)
        #expect(!servers.isEmpty)

        // An object, then resets mid-body: the GET resumes from the last byte.
        let data = (0..<(3 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 11) }
        try await env.storage.putObject(bucket: env.bucket, key: "faults/obj", bytes: data)
        env.simulator.faults.install(FaultRule(service: "s3", method: "GET", pathContains: "faults/obj", action: .reset, afterBytes: 300_000, count: 2))
        #expect(try await env.storage.getObjectBytes(bucket: env.bucket, key: "faults/obj") == data)

        // A 500 on one part: the part is retried and the upload completes.
        env.simulator.faults.install(FaultRule(service: "s3", method: "PUT", pathContains: "faults/multi", action: .status, status: 500, skip: 1, count: 1))
        let writer = env.storage.makeMultipartWriter(bucket: env.bucket, key: "faults/multi", expectedSize: Int64(data.count * 4))
        for _ in 0..<4 { try await writer.append(data) }
        let result = try await writer.finish()
        #expect(result.partCount == 3 && result.size == Int64(data.count * 4))

        // SlowDown on S3 and a reset during an upload are retried too.
        env.simulator.faults.install(FaultRule(service: "s3", method: "PUT", pathContains: "faults/single", action: .rateLimit, count: 2))
        try await env.storage.putObject(bucket: env.bucket, key: "faults/single", bytes: Array(data.prefix(1000)))
        #expect(try await env.storage.headObject(bucket: env.bucket, key: "faults/single").contentLength == 1000)

        // An export that ends in error fails the wait with a precise error.
        let server = try #require(servers.first { $0.name == "web-01" })
        let volume = try #require(server.sortedVolumes.first { $0.volume.family == .localSSD }?.volume)
        let reference = try await env.session.snapshots.create(zone: env.zone, volumeID: volume.id, family: .localSSD,
                                                               name: "kit-fault", project: env.project)
        try await env.session.snapshots.waitUntilAvailable(reference)
        env.simulator.faults.install(FaultRule(service: "api", pathContains: "/export", action: .asyncError))
        let error = await #expect(throws: ScalewayAPIError.self) {
            try await env.session.snapshots.export(reference, bucket: env.bucket, key: "faults/export.qcow2")
        }
        #expect(error?.resourceID == reference.id)
        try await env.session.snapshots.delete(reference)

        // Every injected fault really happened.
        let fired = try await env.faultsFired()
        #expect(fired["/servers"] == 3 && fired["faults/obj"] == 2 && fired["faults/multi"] == 1
            && fired["faults/single"] == 2 && fired["/export"] == 1, "fired: \(fired)")
    }

    /// Each part's SHA-256 is signed (no Content-MD5): the simulator, like
    /// Scaleway, hashes what it received and refuses a part whose bytes are
    /// not the ones hashed, so a part damaged on the way is never stored.
    @Test func partsCarryTheirSignedSHA256AndAMismatchIsRefused() async throws {
        let env = try await Environment.start(tls: false)
        defer { env.stop() }
        let part: [UInt8] = (0..<(5 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
        var damaged = part
        damaged[4242] ^= 0x10
        let id = try await env.storage.createMultipartUpload(bucket: env.bucket, key: "signed/parts")
        let error = await #expect(throws: ScalewayKit.S3Error.self) {
            _ = try await env.storage.uploadPart(bucket: env.bucket, key: "signed/parts", uploadID: id, partNumber: 1,
                                                 body: ScalewayKit.HTTPRequestBody.bytes(damaged),
                                                 payloadSHA256: Crypto.Digest.sha256(part))
        }
        #expect(error?.code == "XAmzContentSHA256Mismatch" && error?.httpStatus == 400)

        // The part as hashed goes through (the writer's path: hashed while filled), and the object is whole.
        let writer = env.storage.makeMultipartWriter(bucket: env.bucket, key: "signed/parts", expectedSize: Int64(2 * part.count))
        try await writer.append(part)
        try await writer.append(damaged)
        let result = try await writer.finish()
        #expect(result.partCount == 2)
        #expect(try await env.storage.getObjectBytes(bucket: env.bucket, key: "signed/parts") == part + damaged)
        try await env.storage.abortMultipartUpload(bucket: env.bucket, key: "signed/parts", uploadID: id)
        #expect(try await env.storage.listMultipartUploads(bucket: env.bucket).isEmpty)
    }

    @Test func credentialsAndPermissionsAreNamed() async throws {
        let env = try await Environment.start(tls: false, secretOverride: "00000000-0000-4000-8000-000000000000")
        defer { env.stop() }
        let wrong = await #expect(throws: ScalewayAPIError.self) { _ = try await env.session.instance.listServers(zone: env.zone) }
        #expect(wrong?.kind == .deniedAuthentication && wrong?.httpStatus == 401)
        let s3 = await #expect(throws: ScalewayKit.S3Error.self) { _ = try await env.storage.listObjects(bucket: env.bucket) }
        #expect(s3?.httpStatus == 403)
        #expect(s3?.code == "SignatureDoesNotMatch" || s3?.code == "InvalidAccessKeyId")

        let keys = env.simulator.endpoints.keys
        if let index = keys.firstIndex(where: { $0.expired }) {
            let expired = try await Environment.start(tls: false, key: index)
            defer { expired.stop() }
            let error = await #expect(throws: ScalewayAPIError.self) { _ = try await expired.session.instance.listServers(zone: expired.zone) }
            #expect(error?.reason == "expired" && error?.description.contains("expired") == true)
        }
        if let index = keys.firstIndex(where: { !$0.expired && !$0.permissionSets.contains("BlockStorageFullAccess") && !$0.permissionSets.contains("BlockStorageReadOnly") }) {
            let limited = try await Environment.start(tls: false, key: index)
            defer { limited.stop() }
            let error = await #expect(throws: ScalewayAPIError.self) { _ = try await limited.session.block.listVolumes(zone: limited.zone) }
            #expect(error?.kind == .permissionsDenied && error?.description.contains("BlockStorageFullAccess") == true)
        }
    }

    @Test func untrustedCertificateIsRefusedWithAnExplanation() async throws {
        let env = try await Environment.start(tls: true, trustCA: false)
        defer { env.stop() }
        let error = await #expect(throws: TransportError.self) { _ = try await env.session.instance.listServers(zone: env.zone) }
        #expect(error?.kind == .certificateUntrusted)
        #expect(error?.description.contains("not trusted") == true && error?.description.contains("ca_file") == true)
        let s3 = await #expect(throws: TransportError.self) { _ = try await env.storage.listObjects(bucket: env.bucket) }
        #expect(s3?.kind == .certificateUntrusted)
    }
}
