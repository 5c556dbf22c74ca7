import JSONRPC
import Synchronization

/// The ``Notifier`` connectors use: `progress` and `log` notifications on
/// the JSON-RPC connection.
///
/// Built before the connection (the connection needs the session's method
/// table, the session needs a notifier), then attached to it.
public final class RPCNotifier: Notifier {
    private let connection = Mutex<JSONRPCConnection?>(nil)

    public init() {}

    /// Attaches the connection notifications go to.
    public func attach(_ connection: JSONRPCConnection) {
        self.connection.withLock { $0 = connection }
    }

    public func progress(_ progress: Progress) {
        send("progress", progress.json)
    }

    public func log(level: String, message: String) {
        send("log", ["level": .string(level), "message": .string(message)])
    }

    private func send(_ method: String, _ params: JSONValue) {
        connection.withLock { $0 }?.notify(method, params)
    }
}
