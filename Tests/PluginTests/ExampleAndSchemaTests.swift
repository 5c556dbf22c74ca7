import Foundation
import PluginTestSupport
import JSONRPC
import Testing

/// protocol/examples replayed through the binary, and real traffic checked
/// against protocol/schema.
@Suite(.serialized) struct ExampleAndSchemaTests {
    static let examples = PluginProcess.repositoryRoot.appendingPathComponent("protocol/examples")

    /// The self-contained sessions: those on the memory-test connector. (The
    /// scaleway-instance sessions need the simulator and have their own
    /// runner, run-scaleway-example.py.)
    static var exampleNames: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: examples.path)) ?? []
        return files.filter { $0.hasSuffix(".jsonl") && !$0.hasSuffix(".expected.jsonl") }
            .filter { name in
                let text = (try? String(contentsOf: examples.appendingPathComponent(name), encoding: .utf8)) ?? ""
                return !text.contains("\"protocol\":\"scaleway-instance\"")
            }
            .map { String($0.dropLast(".jsonl".count)) }.sorted()
    }

    @Test func everySelfContainedExampleHasItsExpectedAnswers() {
        #expect(Self.exampleNames.count >= 4)
        for name in Self.exampleNames {
            #expect(FileManager.default.fileExists(atPath: Self.examples.appendingPathComponent("\(name).expected.jsonl").path), "\(name)")
        }
    }

    @Test(arguments: exampleNames)
    func exampleSessionPipedIntoTheBinaryGivesTheExpectedAnswers(name: String) throws {
        let requests = try String(contentsOf: Self.examples.appendingPathComponent("\(name).jsonl"), encoding: .utf8)
        let expected = try String(contentsOf: Self.examples.appendingPathComponent("\(name).expected.jsonl"), encoding: .utf8)
        let plugin = try PluginProcess(testConnector: true)
        plugin.write(Array(requests.utf8))
        plugin.closeInput()
        let actual = try plugin.remainingLines()
        #expect(try plugin.waitForExit() == 0)

        // Responses may come out of order: compare them by id; notifications as a multiset.
        func split(_ lines: [String]) throws -> (responses: [String: JSONValue], notifications: [String]) {
            var responses: [String: JSONValue] = [:]
            var notifications: [String] = []
            for line in lines where !line.isEmpty {
                let message = try JSONParser.parse(line)
                if let id = message["id"] {
                    let key = JSONWriter.string(id) + (id.isNull ? "#\(responses.count)" : "")
                    #expect(responses[key] == nil, "two answers for id \(key)")
                    responses[key] = message
                } else {
                    notifications.append(JSONWriter.string(message))
                }
            }
            return (responses, notifications.sorted())
        }
        let want = try split(expected.split(separator: "\n").map(String.init))
        let got = try split(actual)
        #expect(got.responses.keys.sorted() == want.responses.keys.sorted())
        for (id, message) in want.responses {
            #expect(got.responses[id] == message, "answer to id \(id)")
        }
        #expect(got.notifications == want.notifications)
    }

    @Test(arguments: [1, 2, 3, 7, 64, 333, 4096])
    func aSessionWrittenInPiecesGetsTheSameAnswers(pieceSize: Int) throws {
        let session = Array(try String(contentsOf: Self.examples.appendingPathComponent("importer-session.jsonl"), encoding: .utf8)
            .replacingOccurrences(of: "\n", with: "\r\n").utf8)
        let plugin = try PluginProcess(testConnector: true)
        var offset = 0
        while offset < session.count {   // one write(2) per piece
            let end = min(offset + pieceSize, session.count)
            plugin.write(Array(session[offset..<end]))
            offset = end
        }
        plugin.closeInput()
        let answers = try plugin.remainingLines().map { try JSONParser.parse($0) }.filter { $0["id"] != nil }
        #expect(answers.count == 7)
        #expect(answers.allSatisfy { $0["result"] != nil })
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func realTrafficMatchesTheSchemas() throws {
        var traffic: [(sent: Bool, line: String)] = []
        // Every example session.
        for name in Self.exampleNames {
            let plugin = try PluginProcess(testConnector: true)
            let requests = try String(contentsOf: Self.examples.appendingPathComponent("\(name).jsonl"), encoding: .utf8)
            for line in requests.split(separator: "\n") { plugin.send(String(line)) }
            plugin.closeInput()
            _ = try plugin.remainingLines()
            _ = try plugin.waitForExit()
            traffic += plugin.traffic
        }
        // A session with a per-file error record, a failed write and a log-free exporter.
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("importer", ["files": "/a:5,/b:0", "error_path": "/c"]))
        plugin.request(2, "list")
        plugin.request(3, "read", ["path": "/b", "offset": 0, "length": 1])
        plugin.request(4, "read", ["path": "/a", "offset": 10, "length": 1])
        plugin.request(5, "close")
        plugin.closeInput()
        _ = try plugin.remainingLines()
        _ = try plugin.waitForExit()
        traffic += plugin.traffic

        let file = temporaryPath("traffic.jsonl")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let jsonl = traffic.map { JSONWriter.string(["dir": .string($0.sent ? "in" : "out"), "line": .string($0.line)]) }
        try (jsonl.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try runPython(["protocol/tools/validate.py", file])
        #expect(status == 0, "\(output)")
        #expect(output.contains("0 problem(s)"))
    }

    @Test func theValidatorCatchesAViolation() throws {
        let file = temporaryPath("bad.jsonl")
        defer { try? FileManager.default.removeItem(atPath: file) }
        let lines: [JSONValue] = [
            ["dir": "in", "line": #"{"jsonrpc":"2.0","id":1,"method":"read","params":{"path":"/a","offset":0,"length":1}}"#],
            ["dir": "out", "line": #"{"jsonrpc":"2.0","id":1,"result":{"data":"not base64!","eof":"yes"}}"#],
        ]
        try (lines.map(JSONWriter.string).joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let (status, output) = try runPython(["protocol/tools/validate.py", file])
        #expect(status == 1)
        #expect(output.contains("read.result.json"))
    }

    private func runPython(_ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        process.currentDirectoryURL = PluginProcess.repositoryRoot
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
