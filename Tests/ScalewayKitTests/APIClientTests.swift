import Foundation
import Testing
@testable import ScalewayKit

/// The Instance and Block clients against a scripted server: retries,
/// transient states, create-then-look-up, pagination, waiters, wire formats.
@Suite struct APIClientTests {
    static let credentials = ScalewayCredentials(accessKey: "SCWTESTACCESSKEY0001", secretKey: "11111111-2222-3333-4444-555555555555")
    static let zone = Zone.frPar1
    static let base = "/instance/v1/zones/fr-par-1"

    struct Harness {
        let server: ScriptedServer
        let clock = VirtualClock()
        let instance: InstanceClient
        let block: BlockClient

        init(routes: [[String: Any]]) async throws {
            server = try await ScriptedServer(plan: ["routes": routes])
            let transport = try Transport()
            let options = APIClientOptions(retry: RetryPolicy(maxAttempts: 4, random: { 0 }), clock: clock)
            let endpoints = ScalewayEndpoints(apiURL: server.baseURL)
            instance = InstanceClient(transport: transport, credentials: APIClientTests.credentials, endpoints: endpoints, options: options)
            block = BlockClient(transport: transport, credentials: APIClientTests.credentials, endpoints: endpoints, options: options)
        }
    }

    static func server(_ id: String, name: String = "web1", state: String = "running") -> [String: Any] {
        ["id": id, "name": name, "state": state, "commercial_type": "DEV1-S", "project": "p1", "tags": [],
         "volumes": ["0": ["boot": false, "volume_type": "sbs_volume", "id": "v-\(id)", "state": "available", "zone": "fr-par-1"]],
         "some_future_field": ["nested": [1, 2, 3]], "image": NSNull(), "placement_group": NSNull()]
    }

    static var rateLimited: [String: Any] { ["status": 429, "headers": ["X-Envoy-Ratelimited": "true"], "body": ""] }

    @Test func rateLimitStormIsRetriedWithBackoffAndCredentialsSent() async throws {
        let h = try await Harness(routes: [["method": "GET", "path": "\(Self.base)/servers/s1", "responses": [
            Self.rateLimited, Self.rateLimited, Self.rateLimited, ["status": 200, "body": ["server": Self.server("s1")]],
        ]]])
        defer { h.server.stop() }
        let server = try await h.instance.getServer(zone: Self.zone, id: "s1")
        #expect(server.id == "s1" && server.volumes?["0"]?.family == .blockStorage && server.volumes?["0"]?.size == nil)
        #expect(h.clock.sleeps == [.seconds(1), .seconds(2), .seconds(4)])
        let log = try h.server.log()
        #expect(log.count == 4)
        #expect(log.allSatisfy { $0.header("X-Auth-Token") == Self.credentials.secretKey && $0.header("Content-Type") == nil })
    }

    @Test func persistentRateLimitGivesUpWithATypedError() async throws {
        let h = try await Harness(routes: [["method": "GET", "path": "\(Self.base)/servers/s1", "responses": [Self.rateLimited]]])
        defer { h.server.stop() }
        let error = await #expect(throws: ScalewayAPIError.self) { _ = try await h.instance.getServer(zone: Self.zone, id: "s1") }
        #expect(error?.kind == .rateLimited && error?.httpStatus == 429)
        #expect(try h.server.log().count == 4)
    }

    @Test func serverErrorsAreRetriedForReadsOnly() async throws {
        let h = try await Harness(routes: [
            ["method": "GET", "path": "\(Self.base)/snapshots/snap1", "responses": [
                ["status": 503, "body": ""], ["status": 200, "body": ["snapshot": ["id": "snap1", "state": "available"]]],
            ]],
            // The create answers 500 (ambiguous: it may have been applied)...
            ["method": "POST", "path": "\(Self.base)/snapshots", "responses": [["status": 500, "body": ["type": "internal_error"]]]],
            // ...and the look-up finds it, so it is not created twice.
            ["method": "GET", "path": "\(Self.base)/snapshots", "responses": [["status": 200, "headers": ["X-Total-Count": "2"], "body": ["snapshots": [
                ["id": "other", "name": "plakar-web1-0-backup", "base_volume": ["id": "another-volume"]],
                ["id": "found", "name": "plakar-web1-0-backup", "base_volume": ["id": "vol1"], "state": "snapshotting"],
            ]]]]],
        ])
        defer { h.server.stop() }
        #expect(try await h.instance.getSnapshot(zone: Self.zone, id: "snap1").state == "available")
        let snapshot = try await h.instance.createSnapshot(zone: Self.zone, CreateInstanceSnapshotRequest(
            name: "plakar-web1-0-backup", volumeID: "vol1", project: "p1", tags: ["plakar"]))
        #expect(snapshot.id == "found")
        let log = try h.server.log()
        #expect(log.filter { $0.method == "POST" }.count == 1)
        let post = try #require(log.first { $0.method == "POST" })
        #expect(post.header("Content-Type") == "application/json")
        let body = try JSONSerialization.jsonObject(with: Data(post.body.utf8)) as? [String: Any]
        #expect(body?["volume_id"] as? String == "vol1" && body?["project"] as? String == "p1" && body?["tags"] as? [String] == ["plakar"])
        let lookup = try #require(log.last)
        #expect(lookup.query == "name=plakar-web1-0-backup&project=p1&page=1&per_page=100")
    }

    @Test func rateLimitedCreateIsRepeatedBecauseItWasNotProcessed() async throws {
        let h = try await Harness(routes: [["method": "POST", "path": "/block/v1/zones/fr-par-1/snapshots", "responses": [
            Self.rateLimited, ["status": 200, "body": ["id": "bs1", "status": "creating", "parent_volume": NSNull(), "references": []]],
        ]]])
        defer { h.server.stop() }
        let snapshot = try await h.block.createSnapshot(zone: Self.zone, CreateBlockSnapshotRequest(volumeID: "v1", name: "n", projectID: "p1"))
        #expect(snapshot.id == "bs1" && snapshot.status == "creating" && snapshot.parentVolume == nil)
        let posts = try h.server.log().filter { $0.method == "POST" }
        #expect(posts.count == 2)
        let body = try JSONSerialization.jsonObject(with: Data(posts[0].body.utf8)) as? [String: Any]
        #expect(body?["public"] as? Bool == false && body?["project_id"] as? String == "p1" && body?["tags"] as? [String] == [])
    }

    @Test func transientStateIsWaitedOut() async throws {
        let transient: [String: Any] = ["status": 409, "body": ["type": "transient_state", "message": "resource is in a transient state",
                                                                 "resource": "instance_server", "resource_id": "s1", "current_state": "starting"]]
        let h = try await Harness(routes: [["method": "POST", "path": "\(Self.base)/servers/s1/action", "responses": [
            transient, transient, ["status": 202, "body": ["task": ["id": "00000000-0000-0000-0000-000000000000", "description": "fake task",
                                                                       "status": "pending", "terminated_at": NSNull(), "progress": 0]]],
        ]]])
        defer { h.server.stop() }
        let task = try await h.instance.performAction(zone: Self.zone, serverID: "s1", action: .powerOff)
        #expect(task?.description == "fake task")
        #expect(h.clock.sleeps == [.seconds(2), .seconds(3)])
        let body = try h.server.log().first?.body
        #expect(body == #"{"action":"poweroff"}"#)
    }

    @Test func listsFollowEveryPage() async throws {
        let page1 = (0..<100).map { Self.server("s\($0)", name: "web\($0)") }
        let page2 = (100..<130).map { Self.server("s\($0)", name: "web\($0)") }
        let h = try await Harness(routes: [
            ["method": "GET", "path": "\(Self.base)/servers", "query": "name=web&page=1&per_page=100",
             "responses": [["status": 200, "headers": ["X-Total-Count": "130"], "body": ["servers": page1]]]],
            ["method": "GET", "path": "\(Self.base)/servers", "query": "name=web&page=2&per_page=100",
             "responses": [["status": 200, "headers": ["X-Total-Count": "130"], "body": ["servers": page2]]]],
            ["method": "GET", "path": "/block/v1/zones/fr-par-1/volumes", "query": "project_id=p1&page=1&page_size=100",
             "responses": [["status": 200, "body": ["volumes": [["id": "bv1", "type": "sbs_5k", "specs": ["perf_iops": 5000, "class": "sbs"]]], "total_count": 1]]]],
        ])
        defer { h.server.stop() }
        let servers = try await h.instance.listServers(zone: Self.zone, filter: InstanceListFilter(name: "web"))
        #expect(servers.count == 130 && servers.last?.id == "s129")
        let volumes = try await h.block.listVolumes(zone: Self.zone, filter: BlockListFilter(projectID: "p1"))
        #expect(volumes.map(\.id) == ["bv1"] && volumes.first?.specs?.perfIOPS == 5000)
    }

    @Test func waitersPollUntilAvailableAndFailOnError() async throws {
        func snapshot(_ state: String) -> [String: Any] { ["status": 200, "body": ["snapshot": ["id": "s1", "state": state, "error_details": NSNull()]]] }
        let h = try await Harness(routes: [
            ["method": "GET", "path": "\(Self.base)/snapshots/s1", "responses": [snapshot("snapshotting"), snapshot("snapshotting"), snapshot("available")]],
            ["method": "GET", "path": "/block/v1/zones/fr-par-1/snapshots/b1", "responses": [
                ["status": 200, "body": ["id": "b1", "status": "creating"]], ["status": 200, "body": ["id": "b1", "status": "error"]]]],
        ])
        defer { h.server.stop() }
        let done = try await h.instance.waitForSnapshot(zone: Self.zone, id: "s1")
        #expect(done.state == "available")
        #expect(h.clock.sleeps == [.seconds(5), .milliseconds(6250)])
        let error = await #expect(throws: ScalewayAPIError.self) { _ = try await h.block.waitForSnapshot(zone: Self.zone, id: "b1") }
        #expect(error?.description.contains("QCOW2") == true)
    }

    @Test func exportImportAndVolumeRequestsMatchTheAPI() async throws {
        let h = try await Harness(routes: [
            ["method": "POST", "path": "\(Self.base)/snapshots/s1/export", "responses": [["status": 202, "body": ["task": ["id": "0", "href_result": "https://s3.fr-par.scw.cloud/b/k"]]]]],
            ["method": "POST", "path": "/block/v1/zones/fr-par-1/snapshots/import-from-object-storage", "responses": [["status": 200, "body": ["id": "b2", "status": "creating"]]]],
            ["method": "POST", "path": "/block/v1/zones/fr-par-1/volumes", "responses": [["status": 200, "body": ["id": "v9", "status": "creating", "type": "sbs_5k"]]]],
            ["method": "POST", "path": "\(Self.base)/servers", "responses": [["status": 201, "body": ["server": Self.server("new", name: "restored", state: "stopped")]]]],
            ["method": "PATCH", "path": "\(Self.base)/servers/new", "responses": [["status": 200, "body": ["server": Self.server("new")]]]],
            ["method": "DELETE", "path": "\(Self.base)/snapshots/gone", "responses": [["status": 404, "body": ["type": "not_found", "resource": "instance_snapshot"]]]],
        ])
        defer { h.server.stop() }
        let task = try await h.instance.exportSnapshot(zone: Self.zone, id: "s1", bucket: "b", key: "k")
        #expect(task?.hrefResult == "https://s3.fr-par.scw.cloud/b/k")
        _ = try await h.block.importSnapshot(zone: Self.zone, ImportBlockSnapshotRequest(bucket: "b", key: "k.qcow2", name: "imp", projectID: "p1"))
        _ = try await h.block.createVolume(zone: Self.zone, CreateBlockVolumeRequest(name: "vol", perfIOPS: 5000, projectID: "p1",
                                                                                      source: .snapshot(id: "b2", size: nil)))
        _ = try await h.instance.createServer(zone: Self.zone, CreateServerRequest(name: "restored", commercialType: "DEV1-S", project: "p1",
            volumes: ["0": .blockVolume(id: "v9"), "1": .localVolumeFromSnapshot(name: "data", snapshotID: "s7"), "2": .localVolume(id: "l1", name: "x")]))
        _ = try await h.instance.updateServerVolumes(zone: Self.zone, serverID: "new", volumes: ["0": .blockVolume(id: "v9")])
        try await h.instance.deleteSnapshot(zone: Self.zone, id: "gone")  // already gone: not an error
        let bodies = try h.server.log().map(\.body)
        #expect(bodies[0] == #"{"bucket":"b","key":"k"}"#)
        #expect(bodies[1] == #"{"bucket":"b","key":"k.qcow2","name":"imp","project_id":"p1","tags":[]}"#)
        #expect(bodies[2] == #"{"from_snapshot":{"size":null,"snapshot_id":"b2"},"name":"vol","perf_iops":5000,"project_id":"p1","tags":[]}"#)
        #expect(bodies[3].contains(#""volumes":{"0":{"id":"v9","volume_type":"sbs_volume"},"1":{"base_snapshot":"s7","name":"data","volume_type":"l_ssd"},"2":{"boot":false,"id":"l1","name":"x"}}"#))
        #expect(bodies[3].contains(#""boot_type":"local""#) && bodies[3].contains(#""commercial_type":"DEV1-S""#))
        #expect(bodies[4] == #"{"volumes":{"0":{"id":"v9","volume_type":"sbs_volume"}}}"#)
    }

    @Test func errorsCarryTheRequestIDAndOperation() async throws {
        let h = try await Harness(routes: [["method": "GET", "path": "/block/v1/zones/fr-par-1/volumes/v1", "responses": [
            ["status": 403, "body": ["type": "permissions_denied", "message": "insufficient permissions",
                                     "details": [["resource": "block_volume", "action": "read"]]]]]]])
        defer { h.server.stop() }
        let error = await #expect(throws: ScalewayAPIError.self) { _ = try await h.block.getVolume(zone: Self.zone, id: "v1") }
        #expect(error?.kind == .permissionsDenied && error?.requestID?.hasPrefix("req-") == true)
        #expect(error?.operation == "GET /block/v1/zones/fr-par-1/volumes/v1")
        #expect(try h.server.log().count == 1)  // a 403 is not retried
    }
}
