import Foundation
import JSONRPC

extension JSONValue {
    /// `error.code` of a response.
    var errorCode: Int? { self["error"]?["code"]?.int64Value.map(Int.init) }
    var errorKind: String? { self["error"]?["data"]?["kind"]?.stringValue }
    var result: JSONValue? { self["result"] }
}

/// A fresh temporary file path (not created).
func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("plakar-scaleway-\(UUID().uuidString)-\(name)").path
}

/// The memory-test open request params.
func openParams(_ mode: String = "importer", _ config: [String: String] = [:]) -> JSONValue {
    var members: [(key: String, value: JSONValue)] = [("location", "memory-test://")]
    for (k, v) in config.sorted(by: { $0.key < $1.key }) { members.append((k, .string(v))) }
    return ["protocol": "memory-test", "mode": .string(mode), "config": .object(members)]
}

/// The memory-test content pattern.
func patternBytes(offset: Int, count: Int) -> [UInt8] {
    (0..<count).map { UInt8(ascii: "a") + UInt8((offset + $0) % 26) }
}
