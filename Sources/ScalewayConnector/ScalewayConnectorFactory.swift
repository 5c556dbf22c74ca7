import PluginProtocol

/// Builds the `scaleway-instance` importer (backup) and exporter (restore).
///
/// The configuration is parsed and validated here (see ``ConnectorConfig``),
/// so a bad key fails `open` before any network call. The cloud session is
/// made by `makeSession`: by default over ScalewayKit (libcurl); tests may
/// inject their own.
public struct ScalewayConnectorFactory: ConnectorFactory {
    public typealias SessionMaker = @Sendable (ConnectorConfig) throws -> any CloudSession

    private let makeSession: SessionMaker

    public init(makeSession: @escaping SessionMaker = ScalewayConnectorFactory.defaultSession) {
        self.makeSession = makeSession
    }

    public var protocols: [String] { ["scaleway-instance"] }

    public func makeImporter(_ context: ConnectorContext) throws -> any Importer {
        try checkProtocol(context)
        let config = try ConnectorConfig.parse(context.config, role: .importer)
        let timeouts = Timeouts(config: config)
        return ScalewayImporter(config: config, session: try makeSession(config), notifier: context.notifier,
                                poller: Poller.standard.naming(timeouts), timeouts: timeouts)
    }

    public func makeExporter(_ context: ConnectorContext) throws -> any Exporter {
        try checkProtocol(context)
        let config = try ConnectorConfig.parse(context.config, role: .exporter)
        let timeouts = Timeouts(config: config)
        return ScalewayExporter(config: config, session: try makeSession(config), notifier: context.notifier,
                                checkHeader: QCOW2HeaderCheck.check, poller: Poller.standard.naming(timeouts), timeouts: timeouts)
    }

    private func checkProtocol(_ context: ConnectorContext) throws {
        guard protocols.contains(context.protocolName) else {
            throw PluginError(.unsupported, "protocol \(context.protocolName) is not served by this plugin",
                              hint: "use scaleway-instance")
        }
    }

    /// The production session (ScalewayKit over libcurl).
    public static let defaultSession: SessionMaker = { config in try ScalewayKitCloud(config: config) }
}
