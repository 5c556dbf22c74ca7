import Foundation
import Testing
@testable import ScalewaySimulator

/// `scw-sim` as other processes use it: a seed file, the startup line, SIGTERM.
@Suite struct ScwSimExecutableTests {
    var executable: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("scw-sim").path
    }

    @Test func seedFileStartupLineAndSigterm() throws {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            Issue.record("scw-sim is not built next to the tests (\(executable)); run swift build --build-tests")
            return
        }
        let dir = try HTTPTestSupport.temporaryDirectory("exe")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let seedPath = dir + "/seed.json"
        try Data("""
            {"zone": "nl-ams-1",
             "projects": [{"name": "p"}],
             "keys": [{"name": "k", "permission_sets": ["InstancesFullAccess"]}],
             "buckets": [{"name": "nl-staging"}],
             "servers": [{"name": "solo", "state": "stopped",
                          "volumes": {"0": {"name": "r", "type": "sbs_15k", "size": 2000000000,
                                            "content": [{"offset": 4096, "length": 8192, "seed": 5}]}}}],
             "faults": [{"service": "api", "path_contains": "/snapshots", "action": "async_error"}]}
            """.utf8).write(to: URL(fileURLWithPath: seedPath))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["--seed", seedPath, "--port", "0", "--state", dir + "/state", "--durations", "fast"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        var line = Data()
        while true {
            let byte = try out.fileHandleForReading.read(upToCount: 1) ?? Data()
            if byte.isEmpty || byte == Data("\n".utf8) { break }
            line += byte
        }
        let startup = try JSONSerialization.jsonObject(with: line) as? [String: Any] ?? [:]
        #expect(startup["zone"] as? String == "nl-ams-1")
        #expect(startup["region"] as? String == "nl-ams")
        #expect(startup["bucket"] as? String == "nl-staging")
        let keys = startup["keys"] as? [[String: Any]] ?? []
        #expect(keys.count == 1 && keys[0]["permission_sets"] as? [String] == ["InstancesFullAccess"])
        #expect(keys[0]["expired"] as? Bool == false)
        let api = startup["api_url"] as? String ?? ""
        let servers = try HTTPTestSupport.curl(["-H", "X-Auth-Token: \(keys[0]["secret_key"] as? String ?? "")",
                                                api + "/instance/v1/zones/nl-ams-1/servers"])
        #expect(servers.status == 200)
        let server = ((try JSONSerialization.jsonObject(with: servers.body) as? [String: Any])?["servers"] as? [[String: Any]])?.first
        #expect(server?["name"] as? String == "solo")
        let root = ((server?["volumes"] as? [String: Any])?["0"] as? [String: Any])?["id"] as? String ?? ""
        // The key lacks BlockStorageFullAccess.
        let block = try HTTPTestSupport.curl(["-H", "X-Auth-Token: \(keys[0]["secret_key"] as? String ?? "")",
                                              api + "/block/v1/zones/nl-ams-1/volumes/\(root)"])
        #expect(block.status == 403)
        let faults = try HTTPTestSupport.curl([api + "/_sim/faults"])
        #expect(String(decoding: faults.body, as: UTF8.self).contains("async_error"))
        process.terminate() // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(process.terminationReason == .exit)
    }
}
