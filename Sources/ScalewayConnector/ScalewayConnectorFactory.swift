import PluginProtocol

/// Builds the `scaleway-instance` importer and exporter.
///
/// The backup and restore flows are being built on the `connector` branch;
/// until they land, `open` answers a clear `unsupported` error.
public struct ScalewayConnectorFactory: ConnectorFactory {
    public init() {}

    public var protocols: [String] { ["scaleway-instance"] }

    public func makeImporter(_ context: ConnectorContext) throws -> any Importer {
        throw PluginError(.unsupported, "the scaleway-instance importer is not available in this build",
                          hint: "use a build that includes the backup flow")
    }

    public func makeExporter(_ context: ConnectorContext) throws -> any Exporter {
        throw PluginError(.unsupported, "the scaleway-instance exporter is not available in this build",
                          hint: "use a build that includes the restore flow")
    }
}
