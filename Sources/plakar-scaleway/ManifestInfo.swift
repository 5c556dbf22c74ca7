import JSONRPC

/// Facts read from the embedded manifest (the one source of truth).
enum ManifestInfo {
    private static let document: JSONValue = {
        do { return try JSONParser.parse(embeddedManifest) } catch { fatalError("embedded manifest.json is not valid JSON: \(error)") }
    }()

    static var version: String { document["version"]?.stringValue ?? "unknown" }
    static var protocolVersion: String { document["protocol_version"]?.stringValue ?? "unknown" }
    static var name: String { document["name"]?.stringValue ?? "scaleway" }
}
