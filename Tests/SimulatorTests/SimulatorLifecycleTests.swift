import Foundation
import Testing
@testable import ScalewaySimulator

/// The whole simulator over real HTTP(S): listeners, TLS, control API,
/// faults, and persistence across restarts.
@Suite struct SimulatorLifecycleTests {
    func curlJSON(_ args: [String]) throws -> (status: Int, json: [String: Any], raw: Data) {
        let answer = try HTTPTestSupport.curl(args)
        let json = (try? JSONSerialization.jsonObject(with: answer.body)) as? [String: Any] ?? [:]
        return (answer.status, json, answer.body)
    }

    @Test func servesTheAPIsOverTLSWithTheGeneratedCA() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("tls")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sim = try Simulator.start(stateDirectory: dir, seed: .tiny, tls: true, durations: .fast)
        defer { sim.stop() }
        let e = sim.endpoints
        #expect(e.apiURL.hasPrefix("https://127.0.0.1:"))
        #expect(e.s3Endpoint.hasPrefix("https://127.0.0.1:"))
        let ca = try #require(e.caFile)
        #expect(e.zone == "fr-par-1" && e.region == "fr-par" && e.bucket == "plakar-staging")
        #expect(e.keys.count == 3 && e.keys[0].permissionSets.contains("BlockStorageFullAccess") && e.keys[2].expired)
        let token = e.keys[0].secretKey
        let servers = try curlJSON(["--cacert", ca, "-H", "X-Auth-Token: \(token)",
                                    e.apiURL + "/instance/v1/zones/fr-par-1/servers"])
        #expect(servers.status == 200)
        #expect((servers.json["servers"] as? [Any])?.count == 2)
        // Verification is on: without the CA the handshake fails.
        let untrusted = try HTTPTestSupport.curl([e.apiURL + "/_sim/state"])
        #expect(untrusted.exit != 0)
        // Block on v1alpha1 as well.
        let volumes = try curlJSON(["--cacert", ca, "-H", "X-Auth-Token: \(token)",
                                    e.apiURL + "/block/v1alpha1/zones/fr-par-1/volumes"])
        #expect(volumes.json["total_count"] as? Int == 3)
        // The line scw-sim prints.
        let line = try JSONSerialization.jsonObject(with: Data(e.jsonLine().utf8)) as? [String: Any] ?? [:]
        for key in ["api_url", "s3_endpoint", "zone", "region", "project_id", "bucket", "keys", "ca_file"] {
            #expect(line[key] != nil, "startup line lacks \(key)")
        }
    }

    @Test func exportIsReadableThroughS3WithSigV4() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("s3")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sim = try Simulator.start(stateDirectory: dir, seed: .tiny, durations: .fast)
        defer { sim.stop() }
        let e = sim.endpoints, key = e.keys[0]
        let auth = ["-H", "X-Auth-Token: \(key.secretKey)", "-H", "Content-Type: application/json"]
        let servers = try curlJSON(auth + [e.apiURL + "/instance/v1/zones/fr-par-1/servers?name=web-01"])
        let web = (servers.json["servers"] as? [[String: Any]])?.first ?? [:]
        let sbs = ((web["volumes"] as? [String: Any])?["1"] as? [String: Any])?["id"] as? String ?? ""
        let snap = try curlJSON(auth + ["-X", "POST", "-d", #"{"volume_id":"\#(sbs)","name":"s","project_id":"\#(e.projectID)"}"#,
                                        e.apiURL + "/block/v1/zones/fr-par-1/snapshots"])
        #expect(snap.status == 200)
        let id = snap.json["id"] as? String ?? ""
        func status() throws -> String? {
            try curlJSON(auth + [e.apiURL + "/block/v1/zones/fr-par-1/snapshots/\(id)"]).json["status"] as? String
        }
        try waitUntil("snapshot available") { try status() == "available" }
        let export = try curlJSON(auth + ["-X", "POST", "-d", #"{"bucket":"plakar-staging","key":"x/s.qcow2"}"#,
                                          e.apiURL + "/block/v1/zones/fr-par-1/snapshots/\(id)/export-to-object-storage"])
        #expect(export.status == 200)
        try waitUntil("export done") { try status() == "available" }
        let image = dir + "/download.qcow2"
        let get = try HTTPTestSupport.curl(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "--aws-sigv4", "aws:amz:fr-par:s3", "--user", "\(key.accessKey):\(key.secretKey)",
                                            "-o", image, e.s3Endpoint + "/plakar-staging/x/s.qcow2"])
        #expect(get.status == 200, "\(get.stderr) \((try? String(contentsOfFile: image, encoding: .utf8)) ?? "")")
        #expect(try HTTPTestSupport.run("qemu-img", ["check", image]).status == 0)
        let raw = dir + "/download.raw"
        #expect(try HTTPTestSupport.run("qemu-img", ["convert", "-O", "raw", image, raw]).status == 0)
        let digest = try curlJSON([e.apiURL + "/_sim/volumes/\(sbs)/digest"])
        #expect(try SparseFile.sha256(of: raw).digest == digest.json["sha256"] as? String)
        // The state lists the object for leak checks.
        let state = try curlJSON([e.apiURL + "/_sim/state"])
        let objects = state.json["objects"] as? [[String: Any]] ?? []
        #expect(objects.contains { $0["key"] as? String == "x/s.qcow2" })
    }

    @Test func faultsInstalledThroughTheControlAPIReachTheListener() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("faults")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sim = try Simulator.start(stateDirectory: dir, seed: .tiny, durations: .fast)
        defer { sim.stop() }
        let e = sim.endpoints
        let install = try curlJSON(["-X", "POST", "-d", #"{"id":"storm","service":"api","pathContains":"/servers","action":"rate_limit","skip":0,"count":2}"#,
                                    e.apiURL + "/_sim/faults"])
        #expect(install.status == 200)
        let url = e.apiURL + "/instance/v1/zones/fr-par-1/servers"
        for _ in 0..<2 {
            let limited = try HTTPTestSupport.curl(["-D", "-", "-H", "X-Auth-Token: \(e.keys[0].secretKey)", url])
            #expect(limited.status == 429)
            let text = String(decoding: limited.body, as: UTF8.self).lowercased()
            #expect(text.contains("x-envoy-ratelimited: true"))
            #expect(text.components(separatedBy: "\r\n\r\n").last?.isEmpty == true)
        }
        #expect(try HTTPTestSupport.curl(["-H", "X-Auth-Token: \(e.keys[0].secretKey)", url]).status == 200)
        let listed = try curlJSON([e.apiURL + "/_sim/faults"])
        let storm = (listed.json["faults"] as? [[String: Any]])?.first { $0["id"] as? String == "storm" }
        #expect(storm?["fired"] as? Int == 2)
        #expect(try HTTPTestSupport.curl(["-X", "DELETE", e.apiURL + "/_sim/faults/storm"]).status == 204)
        #expect((try curlJSON([e.apiURL + "/_sim/faults"]).json["faults"] as? [Any])?.isEmpty == true)
    }

    @Test func stateSurvivesARestartAndInFlightOperationsResume() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("restart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var sim = try Simulator.start(stateDirectory: dir, seed: .tiny, durations: SimDurations.fast.scaled(by: 2000))
        let first = sim.endpoints
        let token = first.keys[0].secretKey
        let auth = ["-H", "X-Auth-Token: \(token)", "-H", "Content-Type: application/json"]
        let web = (try curlJSON(auth + [first.apiURL + "/instance/v1/zones/fr-par-1/servers?name=web-01"])
            .json["servers"] as? [[String: Any]])?.first ?? [:]
        let root = ((web["volumes"] as? [String: Any])?["0"] as? [String: Any])?["id"] as? String ?? ""
        let rootDigest = try curlJSON([first.apiURL + "/_sim/volumes/\(root)/digest"]).json["sha256"] as? String
        // A snapshot that takes ~200 s at this scale: stop while it runs.
        let snap = try curlJSON(auth + ["-X", "POST", "-d", #"{"volume_id":"\#(root)","name":"long","project":"\#(first.projectID)"}"#,
                                        first.apiURL + "/instance/v1/zones/fr-par-1/snapshots"])
        #expect(snap.status == 201)
        let id = (snap.json["snapshot"] as? [String: Any])?["id"] as? String ?? ""
        sim.stop()

        sim = try Simulator.start(stateDirectory: dir, seed: .tiny, durations: .fast)
        defer { sim.stop() }
        let e = sim.endpoints
        #expect(e.keys.map(\.secretKey) == first.keys.map(\.secretKey))
        #expect(e.projectID == first.projectID)
        let snapshotURL = e.apiURL + "/instance/v1/zones/fr-par-1/snapshots/\(id)"
        let during = try curlJSON(auth + [snapshotURL]).json["snapshot"] as? [String: Any]
        #expect(during?["name"] as? String == "long")
        // Restarted with fast durations, the operation resumes and finishes now.
        try waitUntil("resumed snapshot") {
            (try curlJSON(auth + [snapshotURL]).json["snapshot"] as? [String: Any])?["state"] as? String == "available"
        }
        let snapshotDigest = try curlJSON([e.apiURL + "/_sim/snapshots/\(id)/digest"]).json["sha256"] as? String
        #expect(snapshotDigest == rootDigest)
        #expect((try curlJSON(auth + [e.apiURL + "/instance/v1/zones/fr-par-1/volumes/\(root)"]).json["volume"] as? [String: Any])?["state"] as? String == "available")
        let restarted = try curlJSON([e.apiURL + "/_sim/volumes/\(root)/digest"])
        #expect(restarted.json["sha256"] as? String == rootDigest)
        let state = try curlJSON([e.apiURL + "/_sim/state"]).json
        #expect((state["servers"] as? [Any])?.count == 2)
        #expect((state["snapshots"] as? [[String: Any]])?.contains { $0["id"] as? String == id } == true)
    }

    @Test func largeExportsAreStoredAsMultipartObjects() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("multipart")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var seed = Seed.tiny
        seed.volumes = [Seed.Volume(name: "big", type: .sbs5k, size: 1_000_000_000,
                                    content: [ContentRegion(offset: 0, length: 12 << 20, seed: 77)])]
        let sim = try Simulator.start(stateDirectory: dir, seed: seed, durations: .fast)
        defer { sim.stop() }
        let e = sim.endpoints
        let auth = ["-H", "X-Auth-Token: \(e.keys[0].secretKey)", "-H", "Content-Type: application/json"]
        let volumes = try curlJSON(auth + [e.apiURL + "/block/v1/zones/fr-par-1/volumes?name=big"])
        let big = (volumes.json["volumes"] as? [[String: Any]])?.first?["id"] as? String ?? ""
        let snap = try curlJSON(auth + ["-X", "POST", "-d", #"{"volume_id":"\#(big)","name":"big","project_id":"\#(e.projectID)"}"#,
                                        e.apiURL + "/block/v1/zones/fr-par-1/snapshots"])
        let id = snap.json["id"] as? String ?? ""
        let url = e.apiURL + "/block/v1/zones/fr-par-1/snapshots/\(id)"
        try waitUntil("snapshot") { try curlJSON(auth + [url]).json["status"] as? String == "available" }
        _ = try curlJSON(auth + ["-X", "POST", "-d", #"{"bucket":"plakar-staging","key":"big.qcow2"}"#, url + "/export-to-object-storage"])
        try waitUntil("export") { try curlJSON(auth + [url]).json["status"] as? String == "available" }
        let object = try #require(sim.objectStore.object(bucket: "plakar-staging", key: "big.qcow2"))
        #expect(object.contentType == "application/x-qemu-disk")
        // 12 MiB of data plus metadata in 5 MiB parts: three parts.
        #expect(object.etag.hasSuffix("-3\""), "\(object.etag)")
        #expect(try HTTPTestSupport.run("qemu-img", ["check", object.path]).status == 0)
    }

    func waitUntil(_ what: String, timeout: Double = 30, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while try !condition() {
            if Date() > deadline { throw Timeout(what: what) }
            usleep(5_000)
        }
    }
}
