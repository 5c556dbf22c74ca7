/// The methods and notifications a connection serves.
///
/// Built before the connection starts; immutable afterwards.
public struct MethodTable: Sendable {
    /// Runs one request; returns its result or throws its error.
    public typealias Handler = @Sendable (IncomingRequest) async throws -> MethodResult
    /// Handles one incoming notification (never answered).
    public typealias NotificationHandler = @Sendable (Params) -> Void

    struct Entry: Sendable {
        var order: ExecutionOrder
        var handler: Handler
    }

    private(set) var methods: [String: Entry] = [:]
    private(set) var notifications: [String: NotificationHandler] = [:]

    public init() {}

    /// Registers a method. A later registration under the same name replaces the earlier one.
    public mutating func register(_ method: String, order: ExecutionOrder = .concurrent, _ handler: @escaping Handler) {
        methods[method] = Entry(order: order, handler: handler)
    }

    /// Registers a notification handler.
    public mutating func onNotification(_ method: String, _ handler: @escaping NotificationHandler) {
        notifications[method] = handler
    }

    /// The registered method names, sorted (for error messages and help).
    public var methodNames: [String] { methods.keys.sorted() }
}
