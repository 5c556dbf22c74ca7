/// An ordered list of HTTP header fields with case-insensitive lookup.
///
/// Order is kept because it is what goes on the wire and into debug logs;
/// lookups ignore case because HTTP field names are case-insensitive.
public struct HTTPHeaders: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [Field]

    /// One header field as received or to be sent.
    public struct Field: Sendable, Hashable {
        public var name: String
        public var value: String
        public init(name: String, value: String) { self.name = name; self.value = value }
    }

    public init() { fields = [] }
    public init(_ pairs: [(String, String)]) { fields = pairs.map { Field(name: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The first value of `name`, ignoring case.
    public subscript(name: String) -> String? {
        let lowered = name.lowercased()
        return fields.first { $0.name.lowercased() == lowered }?.value
    }

    /// Appends a field, keeping any existing one with the same name.
    public mutating func add(_ name: String, _ value: String) { fields.append(Field(name: name, value: value)) }

    /// Replaces every field named `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        let lowered = name.lowercased()
        fields.removeAll { $0.name.lowercased() == lowered }
    }

    public func contains(_ name: String) -> Bool { self[name] != nil }

    public func makeIterator() -> IndexingIterator<[Field]> { fields.makeIterator() }

    /// Header names whose values are credentials and must never be logged.
    public static let sensitiveNames: Set<String> = ["authorization", "x-auth-token", "proxy-authorization"]

    /// The fields as `Name: value` lines with credentials replaced by `<redacted>`.
    public var redactedDescription: String {
        fields.map { field in
            HTTPHeaders.sensitiveNames.contains(field.name.lowercased())
                ? "\(field.name): <redacted>" : "\(field.name): \(field.value)"
        }.joined(separator: ", ")
    }
}
