import Logging
import PluginProtocol

/// Finds the instance the configuration names.
///
/// - By UUID (`hostname` or `location`): `GET /servers/{id}` in the zone,
///   or, when `zone` is omitted, in every zone of ``Zone/searchOrder``
///   until one answers (a 404 moves on to the next zone).
/// - By name: the API's `name` filter is a substring match, so only exact
///   matches count; two or more exact matches (in one zone or across zones)
///   are an error listing the candidates.
struct InstanceResolver {
    let compute: any ComputeAPI
    let logger = Logger(label: "resolve")

    func resolve(_ target: InstanceTarget, zone: Zone?) async throws -> (zone: Zone, server: CloudServer) {
        let zones = zone.map { [$0] } ?? Zone.searchOrder
        switch target {
        case .id(let id):
            for candidate in zones {
                do {
                    let server = try await compute.getServer(zone: candidate, id: id)
                    logger.debug("found instance \(id) in \(candidate)")
                    return (candidate, server)
                } catch where CloudFailure.isNotFound(error) {
                    continue
                } catch {
                    throw CloudFailure.map(error, action: "look up instance \(id) in \(candidate)",
                                           permissionSet: PermissionSet.instances)
                }
            }
            throw PluginError(.notFound,
                              "instance \(id) does not exist in \(zone.map { "zone \($0)" } ?? "any zone (searched \(Zone.searchOrder.map(\.name).joined(separator: ", ")))")",
                              hint: "check the UUID and the zone", field: "location")
        case .name(let name):
            var matches: [(Zone, CloudServer)] = []
            for candidate in zones {
                let servers = try await CloudFailure.attempt("list instances named \"\(name)\" in \(candidate)",
                                                             permissionSet: PermissionSet.instances) {
                    try await compute.listServers(zone: candidate, name: name)
                }
                matches += servers.filter { $0.name == name }.map { (candidate, $0) }
            }
            if matches.count == 1 { return matches[0] }
            if matches.isEmpty {
                throw PluginError(.notFound,
                                  "no instance is named exactly \"\(name)\" in \(zone.map { "zone \($0)" } ?? "any zone")",
                                  hint: "check the name (it is case-sensitive) or use the instance UUID", field: "location")
            }
            let list = matches.map { "\($0.1.id) (\($0.0), \($0.1.state))" }.joined(separator: ", ")
            throw PluginError(.conflict, "\(matches.count) instances are named \"\(name)\": \(list)",
                              hint: "name the instance by UUID: location=scaleway-instance://<uuid>", field: "location")
        }
    }
}
