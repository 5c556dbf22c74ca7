import Foundation
import PluginProtocol

/// JSON coding of the tree's small description files (control data, so
/// Foundation's coder is fast enough).
enum ManifestCoding {
    /// Largest description file accepted by restore.
    static let maxSize = 1 << 20

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Encoding these plain value types cannot fail.
        var bytes = Array((try? encoder.encode(value)) ?? Data())
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    static func decode<T: Decodable>(_ bytes: [UInt8], what: String) throws -> T {
        guard bytes.count <= maxSize else {
            throw PluginErrorFactory.invalidInput("\(what) is \(bytes.count) bytes, more than the \(maxSize) a description may have")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, context) {
            throw PluginErrorFactory.invalidInput("\(what) lacks the required field \(path(context.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, context) {
            throw PluginErrorFactory.invalidInput("\(what): field \(path(context.codingPath)) has the wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw PluginErrorFactory.invalidInput("\(what): field \(path(context.codingPath)) is null")
        } catch let DecodingError.dataCorrupted(context) {
            let at = context.codingPath.isEmpty ? "" : " at \(path(context.codingPath))"
            throw PluginErrorFactory.invalidInput("\(what) is not valid JSON\(at)")
        } catch {
            throw PluginErrorFactory.invalidInput("\(what) cannot be parsed")
        }
    }

    static func checkVersion(_ version: Int, what: String) throws {
        guard (1...InstanceManifest.currentFormatVersion).contains(version) else {
            throw PluginError(.unsupported,
                              "\(what) has format_version \(version); this plugin reads versions 1...\(InstanceManifest.currentFormatVersion)",
                              hint: "restore with a newer plakar-scaleway")
        }
    }

    private static func path(_ keys: [CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
    }
}
