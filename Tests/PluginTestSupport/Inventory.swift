import Foundation

/// The whole resource state of the simulator (servers, volumes, snapshots,
/// objects, incomplete multipart uploads), keyed by id, each resource as
/// canonical JSON, so two inventories can be compared exactly.
public struct Inventory: Equatable, CustomStringConvertible {
    /// kind -> id -> canonical JSON of the resource.
    public var resources: [String: [String: String]]

    public static let kinds: [(kind: String, id: String)] = [
        ("servers", "id"), ("volumes", "id"), ("snapshots", "id"), ("objects", "key"), ("multipart_uploads", "upload_id"),
    ]

    /// Fields that change by themselves and say nothing about ownership.
    static let volatile: Set<String> = ["modification_date", "updated_at", "last_modified"]

    /// `value` with the volatile fields removed at every depth (a volume
    /// snapshotted in place bumps its own and its server's entry's dates).
    static func withoutVolatile(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            var out: [String: Any] = [:]
            for (k, v) in object where !volatile.contains(k) { out[k] = withoutVolatile(v) }
            return out
        }
        if let array = value as? [Any] { return array.map(withoutVolatile) }
        return value
    }

    public init(state: [String: Any]) {
        var resources: [String: [String: String]] = [:]
        for (kind, idField) in Self.kinds {
            var byID: [String: String] = [:]
            for item in state[kind] as? [[String: Any]] ?? [] {
                guard let id = item[idField] as? String else { continue }
                let kept = Self.withoutVolatile(item) as! [String: Any]
                let data = (try? JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys])) ?? Data()
                byID[id] = String(decoding: data, as: UTF8.self)
            }
            resources[kind] = byID
        }
        self.resources = resources
    }

    public func ids(_ kind: String) -> Set<String> { Set(resources[kind, default: [:]].keys) }

    public var description: String {
        Self.kinds.map { "\($0.kind): \(ids($0.kind).sorted())" }.joined(separator: "\n")
    }

    /// What changed from `before` to `self`: new, vanished and modified
    /// resources, by kind. `allowedNew` (kind -> ids) and `allowedChanged`
    /// are what the run was entitled to create or modify.
    public func changes(since before: Inventory, allowedNew: [String: Set<String>] = [:],
                 allowedChanged: [String: Set<String>] = [:]) -> [String] {
        var out: [String] = []
        for (kind, _) in Self.kinds {
            let old = before.resources[kind, default: [:]], new = resources[kind, default: [:]]
            for id in Set(new.keys).subtracting(old.keys).subtracting(allowedNew[kind, default: []]).sorted() {
                out.append("leaked \(kind) \(id): \(new[id]!)")
            }
            for id in Set(old.keys).subtracting(new.keys).sorted() {
                out.append("pre-existing \(kind) \(id) was deleted")
            }
            for (id, doc) in old where new[id] != nil && new[id] != doc && !allowedChanged[kind, default: []].contains(id) {
                out.append("pre-existing \(kind) \(id) changed:\n  before \(doc)\n  after  \(new[id]!)")
            }
        }
        return out
    }
}
