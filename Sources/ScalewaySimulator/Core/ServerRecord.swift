import Foundation

/// An Instance server of the simulated account.
struct ServerRecord: Sendable, Codable, Equatable {
    /// A timed state change in progress (`starting` -> `running`, ...).
    struct Transition: Sendable, Codable, Equatable {
        var action: String
        var targetState: String
        var readyAt: Date
    }

    var id: String
    var name: String
    var hostname: String
    var projectID: String
    var zone: String
    var commercialType: String
    var arch: String
    var bootType: String
    var tags: [String]
    /// `running`, `stopped`, `stopped in place`, `starting`, `stopping`, `locked`.
    var state: String
    var stateDetail: String
    /// Volume index (`"0"` is the root) -> volume id.
    var volumes: [String: String]
    var macAddress: String
    var dynamicIPRequired: Bool
    var enableIPv6: Bool
    var protected: Bool
    var securityGroupID: String
    var createdAt: Date
    var modifiedAt: Date
    var transition: Transition?

    /// What the server accepts in its current state, as the API lists it.
    var allowedActions: [String] {
        switch state {
        case "running": ["poweroff", "terminate", "reboot", "stop_in_place", "backup"]
        case "stopped": ["poweron", "backup"]
        case "stopped in place": ["poweron", "poweroff", "backup"]
        default: []
        }
    }

    /// Volume indexes in numeric order.
    var sortedVolumeIndexes: [String] {
        volumes.keys.sorted { (Int($0) ?? 0, $0) < (Int($1) ?? 0, $1) }
    }
}
