import Foundation

/// A decoded JSON object as the API handlers read request bodies.
///
/// Foundation's `JSONSerialization` is used on purpose: these are small
/// control-plane bodies, never the data path.
typealias JSONObject = [String: Any]

/// Encoding and decoding of the REST API's small JSON bodies.
enum JSONBody {
    /// Serialises `value` (dictionaries, arrays, strings, numbers, `NSNull`).
    static func encode(_ value: Any) -> [UInt8] {
        guard JSONSerialization.isValidJSONObject(value),
              let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return Array("{}".utf8) }
        return Array(data)
    }

    /// Parses a request body that must be a JSON object; an empty body is `{}`.
    static func decodeObject(_ bytes: [UInt8]) throws -> JSONObject {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) { return [:] }
        let value = try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        guard let object = value as? JSONObject else { throw JSONBodyError(message: "the body must be a JSON object") }
        return object
    }
}

/// A request body that is not a JSON object.
struct JSONBodyError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

extension Dictionary where Key == String, Value == Any {
    /// A string member, `nil` when absent or `null`.
    func string(_ key: String) -> String? { self[key] as? String }

    /// An integer member given as a JSON number (or a decimal string, as some SDKs send sizes).
    func int64(_ key: String) -> Int64? {
        if let n = self[key] as? NSNumber, !(self[key] is Bool) { return n.int64Value }
        if let s = self[key] as? String { return Int64(s) }
        return nil
    }

    func bool(_ key: String) -> Bool? { self[key] as? Bool }

    func object(_ key: String) -> JSONObject? { self[key] as? JSONObject }

    func strings(_ key: String) -> [String]? { self[key] as? [String] }

    /// True when the member is present (including explicit `null`).
    func has(_ key: String) -> Bool { self[key] != nil }

    /// True when the member is present and not `null`.
    func hasValue(_ key: String) -> Bool { self[key] != nil && !(self[key] is NSNull) }
}
