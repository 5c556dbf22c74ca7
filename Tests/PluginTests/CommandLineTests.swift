import Foundation
import PluginTestSupport
import JSONRPC
import Testing

/// --help, --version, --manifest: manifest.json is the one source of truth.
@Suite struct CommandLineTests {
    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: Data) {
        let plugin = try PluginProcess(arguments: arguments)
        plugin.closeInput()
        let lines = try plugin.remainingLines()
        let status = try plugin.waitForExit()
        return (status, Data((lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")).utf8))
    }

    @Test func manifestFlagPrintsManifestJSONByteForByte() throws {
        let file = try Data(contentsOf: PluginProcess.repositoryRoot.appendingPathComponent("manifest.json"))
        let (status, out) = try run(["--manifest"])
        #expect(status == 0)
        #expect(out == file, "run python3 protocol/tools/embed-manifest.py after editing manifest.json")
    }

    @Test func versionComesFromTheManifest() throws {
        let manifest = try JSONParser.parse(Array(try Data(contentsOf: PluginProcess.repositoryRoot.appendingPathComponent("manifest.json"))))
        let version = try #require(manifest.value["version"]?.stringValue)
        let protocolVersion = try #require(manifest.value["protocol_version"]?.stringValue)
        let (status, out) = try run(["--version"])
        #expect(status == 0)
        #expect(String(decoding: out, as: UTF8.self) == "plakar-scaleway \(version) (protocol \(protocolVersion))\n")
    }

    @Test func manifestDescribesConnectorsConfigKeysAndPermissions() throws {
        let manifest = try JSONParser.parse(Array(try Data(contentsOf: PluginProcess.repositoryRoot.appendingPathComponent("manifest.json")))).value
        let connectors = try #require(manifest["connectors"]?.arrayValue)
        #expect(connectors.map { $0["type"] } == ["importer", "exporter"])
        #expect(connectors[0]["location_flags"] == ["stream"])
        #expect(connectors.allSatisfy { $0["protocols"] == ["scaleway-instance"] })
        let config = try #require(manifest["config"]?.objectValue)
        let keys = Set(config.map(\.key))
        for key in ["access_key", "secret_key", "hostname", "bucket", "project_id", "zone", "environment", "data_class",
                    "location", "api_url", "s3_endpoint", "ca_file", "prefix", "consistency", "keep_staging", "name",
                    "commercial_type", "start_on_restore", "restore_mode", "force", "perf_iops", "keep_on_failure"] {
            #expect(keys.contains(key), "\(key)")
        }
        for (key, spec) in config {
            for field in ["type", "required", "secret", "description", "example", "default"] {
                #expect(spec[field] != nil, "\(key).\(field)")
            }
            #expect(spec["secret"] == .bool(key == "secret_key"), "\(key)")
        }
        // Every key a connector lists is described.
        for connector in connectors {
            for key in connector["config_keys"]?.arrayValue ?? [] { #expect(keys.contains(key.stringValue ?? "")) }
        }
        let permissions = manifest["iam_permission_sets"]?.arrayValue?.compactMap { $0["name"]?.stringValue } ?? []
        #expect(Set(permissions) == ["InstancesFullAccess", "BlockStorageFullAccess", "ObjectStorageBucketsRead",
                                     "ObjectStorageBucketsWrite", "ObjectStorageObjectsRead", "ObjectStorageObjectsWrite"])
    }

    @Test func helpExplainsTheProtocolWithAPasteableSession() throws {
        let (status, out) = try run(["--help"])
        #expect(status == 0)
        let text = String(decoding: out, as: UTF8.self)
        for needle in ["open", "list", "read", "write", "close", "$/cancelRequest", "progress", "PLAKAR_SCALEWAY_TEST_CONNECTOR=1"] {
            #expect(text.contains(needle), "\(needle)")
        }
    }

    @Test func theHelpSessionWorksAsPrinted() throws {
        let (_, out) = try run(["--help"])
        let text = String(decoding: out, as: UTF8.self)
        let requests = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { $0.hasPrefix("{\"jsonrpc\"") && $0.contains("memory-test") || $0.hasPrefix("{\"jsonrpc\":\"2.0\",\"id\":") && !$0.contains("result") }
            .prefix(4)
        #expect(requests.count == 4)
        let plugin = try PluginProcess(testConnector: true)
        for line in requests { plugin.send(line) }
        plugin.closeInput()
        let answers = try plugin.remainingLines().map { try JSONParser.parse($0) }.filter { $0["id"] != nil }
        #expect(answers.count == 4)
        #expect(answers.allSatisfy { $0["result"] != nil })
        #expect(answers.first { $0["id"] == 3 }?.result?["data"] == "YWJjZGU=")
    }

    @Test func unknownArgumentsAreRefusedOnStderr() throws {
        let (status, out) = try run(["--frobnicate"])
        #expect(status == 2)
        #expect(out.isEmpty)
    }
}
