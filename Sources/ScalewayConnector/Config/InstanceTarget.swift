/// How the configuration names the instance: by UUID or by exact name.
public enum InstanceTarget: Sendable, Equatable, CustomStringConvertible {
    case id(String)
    case name(String)

    /// Parses `<uuid-or-name>`: a UUID is an id, anything else a name.
    public init(_ text: String) {
        self = ConfigValidation.isUUID(text) ? .id(text.lowercased()) : .name(text)
    }

    public var description: String {
        switch self {
        case .id(let id): "instance \(id)"
        case .name(let name): "instance named \"\(name)\""
        }
    }
}

/// How restore recreates the instance.
public enum RestoreMode: String, Sendable, Equatable {
    /// A new instance (the default).
    case new
    /// The target instance's volumes are swapped for the restored ones.
    case inPlace = "in_place"
}

/// How backup makes the snapshot set consistent.
public enum Consistency: String, Sendable, Equatable, Codable {
    /// Live snapshots, as after a power cut (the default).
    case crash
    /// Power off if running, snapshot, power back on (always).
    case stop
}
