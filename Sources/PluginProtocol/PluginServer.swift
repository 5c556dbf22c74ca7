import JSONRPC
import Logging

/// A whole plugin process: the JSON-RPC connection on stdin/stdout, the
/// session on top, and the clean-up when serving stops.
public final class PluginServer: Sendable {
    public let connection: JSONRPCConnection
    public let session: PluginSession

    /// - Parameters:
    ///   - registry: the connectors served.
    ///   - input: descriptor carrying requests (0 = stdin).
    ///   - output: descriptor for responses and notifications (1 = stdout).
    ///   - endOfInputGrace: how long received requests may finish after
    ///     stdin ends (default: the engine's, 30 s).
    public init(registry: ConnectorRegistry, input: Int32 = 0, output: Int32 = 1, endOfInputGrace: Duration? = nil) {
        let notifier = RPCNotifier()
        session = PluginSession(registry: registry, notifier: notifier)
        var configuration = PluginSession.connectionConfiguration()
        if let endOfInputGrace { configuration.endOfInputGrace = endOfInputGrace }
        connection = JSONRPCConnection(input: input, output: output, methods: session.methodTable(),
                                       configuration: configuration)
        notifier.attach(connection)
    }

    /// Serves until end of input, SIGTERM/SIGINT or a closed stdout; then
    /// cancels what is still running, closes the connector if the host did
    /// not, writes what is queued and ends the output's writer thread.
    ///
    /// - Returns: why serving stopped. The process should then exit 0.
    public func run() async -> ShutdownReason {
        let reason = await connection.run()
        await session.shutdown(reason)
        await connection.output.close()
        return reason
    }
}
