/// The connector factories a plugin serves, looked up by protocol name.
public struct ConnectorRegistry: Sendable {
    public let factories: [any ConnectorFactory]

    public init(_ factories: [any ConnectorFactory]) { self.factories = factories }

    /// Every protocol name served, in registration order.
    public var protocols: [String] { factories.flatMap(\.protocols) }

    /// The factory serving `protocolName`.
    /// - Throws: ``PluginError`` `unsupported` listing what is served.
    public func factory(for protocolName: String) throws(PluginError) -> any ConnectorFactory {
        guard let factory = factories.first(where: { $0.protocols.contains(protocolName) }) else {
            throw PluginError(.unsupported, "protocol \"\(protocolName)\" is not served by this plugin",
                              hint: "use one of: \(protocols.joined(separator: ", "))", field: "protocol")
        }
        return factory
    }
}
