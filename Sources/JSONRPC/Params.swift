/// Typed access to request params, failing with -32602 errors that name the
/// field and the expected type.
///
/// Nested objects are read through ``object(_:)``, whose errors name the
/// full path (`host.max_concurrency`).
public struct Params: Sendable {
    /// The params value (`nil` when the request had none).
    public let value: JSONValue?
    /// Path of this object in the params, e.g. `host` (empty at the top).
    public let prefix: String

    public init(_ value: JSONValue?, prefix: String = "") {
        self.value = value
        self.prefix = prefix
    }

    /// `field` with this object's path in front, as shown in errors.
    public func qualified(_ field: String) -> String { prefix.isEmpty ? field : "\(prefix).\(field)" }

    /// The member `field`, or `nil` when absent or `null`.
    public subscript(field: String) -> JSONValue? {
        guard let member = value?[field], !member.isNull else { return nil }
        return member
    }

    /// Fails unless the params are an object (or absent).
    public func requireObject() throws(ResponseError) {
        guard let value else { return }
        guard case .object = value else {
            throw ResponseError(.invalidParams, "invalid params: expected an object with named members, got \(value.typeName)",
                                data: ["kind": .string(ResponseError.invalidParamsKind), "field": "params", "expected": "object"])
        }
    }

    /// Fails when a member is not one of `known`, naming it and the accepted ones.
    public func refuseUnknown(_ known: Set<String>) throws(ResponseError) {
        for member in value?.objectValue ?? [] where !known.contains(member.key) {
            throw ResponseError.invalidParams(field: qualified(member.key),
                "is not a known member; accepted: \(known.sorted().joined(separator: ", "))")
        }
    }

    public func string(_ field: String) throws(ResponseError) -> String {
        guard let s = self[field]?.stringValue else { throw .invalidParams(field: qualified(field), expected: "a string", got: self[field]) }
        return s
    }

    public func optionalString(_ field: String) throws(ResponseError) -> String? {
        guard let v = self[field] else { return nil }
        guard let s = v.stringValue else { throw .invalidParams(field: qualified(field), expected: "a string", got: v) }
        return s
    }

    public func bool(_ field: String) throws(ResponseError) -> Bool {
        guard let b = self[field]?.boolValue else { throw .invalidParams(field: qualified(field), expected: "a boolean", got: self[field]) }
        return b
    }

    public func optionalBool(_ field: String) throws(ResponseError) -> Bool? {
        guard let v = self[field] else { return nil }
        guard let b = v.boolValue else { throw .invalidParams(field: qualified(field), expected: "a boolean", got: v) }
        return b
    }

    /// An integer within `range`.
    public func int64(_ field: String, in range: ClosedRange<Int64> = Int64.min...Int64.max) throws(ResponseError) -> Int64 {
        guard let v = self[field] else { throw .invalidParams(field: qualified(field), expected: describe(range), got: nil) }
        return try checkedInt(v, field: field, range: range)
    }

    public func optionalInt64(_ field: String, in range: ClosedRange<Int64> = Int64.min...Int64.max) throws(ResponseError) -> Int64? {
        guard let v = self[field] else { return nil }
        return try checkedInt(v, field: field, range: range)
    }

    private func checkedInt(_ v: JSONValue, field: String, range: ClosedRange<Int64>) throws(ResponseError) -> Int64 {
        guard case let .number(text) = v else { throw .invalidParams(field: qualified(field), expected: describe(range), got: v) }
        guard let n = v.int64Value else {
            throw .invalidParams(field: qualified(field), "must be \(describe(range)), got \(text)")
        }
        guard range.contains(n) else { throw .invalidParams(field: qualified(field), "must be \(describe(range)), got \(text)") }
        return n
    }

    private func describe(_ range: ClosedRange<Int64>) -> String {
        switch (range.lowerBound, range.upperBound) {
        case (Int64.min, Int64.max): "an integer"
        case (0, Int64.max): "a non-negative integer"
        case (1, Int64.max): "a positive integer"
        case let (lo, hi): "an integer from \(lo) to \(hi)"
        }
    }

    /// A nested object; `nil` when absent.
    public func object(_ field: String) throws(ResponseError) -> Params? {
        guard let v = self[field] else { return nil }
        guard case .object = v else { throw .invalidParams(field: qualified(field), expected: "an object", got: v) }
        return Params(v, prefix: qualified(field))
    }

    /// An object whose members are all strings.
    public func stringMap(_ field: String) throws(ResponseError) -> [String: String]? {
        guard let nested = try object(field) else { return nil }
        var map: [String: String] = [:]
        for member in nested.value?.objectValue ?? [] {
            guard let s = member.value.stringValue else {
                throw .invalidParams(field: nested.qualified(member.key), expected: "a string", got: member.value)
            }
            map[member.key] = s
        }
        return map
    }

    /// An array whose elements are all strings.
    public func stringArray(_ field: String) throws(ResponseError) -> [String]? {
        guard let v = self[field] else { return nil }
        guard let elements = v.arrayValue else { throw .invalidParams(field: qualified(field), expected: "an array of strings", got: v) }
        var out: [String] = []
        for (i, element) in elements.enumerated() {
            guard let s = element.stringValue else {
                throw .invalidParams(field: "\(qualified(field))[\(i)]", expected: "a string", got: element)
            }
            out.append(s)
        }
        return out
    }
}
