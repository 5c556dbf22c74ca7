import Foundation
import PluginProtocol

/// Polls a resource until a condition holds (Scaleway's tasks are fake:
/// the resource itself must be polled).
///
/// The interval starts short and doubles up to ``maxInterval``, so quick
/// operations (and the simulator's fast mode) finish quickly while long
/// exports are polled every few seconds, as Scaleway's own tools do.
public struct Poller: Sendable {
    public var initialInterval: Duration
    public var maxInterval: Duration

    public static let standard = Poller(initialInterval: .milliseconds(100), maxInterval: .seconds(5))

    public init(initialInterval: Duration, maxInterval: Duration) {
        self.initialInterval = initialInterval
        self.maxInterval = maxInterval
    }

    /// Fetches with `fetch` until `done` returns a value, for at most `timeout`.
    ///
    /// Transient fetch failures (network, 5xx, 429) are retried within the
    /// timeout; other failures are thrown. `describe` names the wait in the
    /// timeout error.
    public func wait<R: Sendable, T: Sendable>(
        timeout: Duration, describe: String,
        fetch: @Sendable () async throws -> R,
        until done: @Sendable (R) throws -> T?
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        var interval = initialInterval
        while true {
            try Task.checkCancellation()
            do {
                let value = try await fetch()
                if let result = try done(value) { return result }
            } catch where CloudFailure.isTransient(error) && clock.now < deadline {
                // Keep polling: a blip must not fail an hour-long export.
            }
            guard clock.now < deadline else {
                throw PluginError(.timeout, "gave up waiting for \(describe) after \(timeout)",
                                  hint: "the operation may still complete on Scaleway's side; check the console")
            }
            try await Task.sleep(for: interval)
            interval = min(interval * 2, maxInterval)
        }
    }
}

/// How long the connector waits for each kind of operation (Terraform's
/// values: 1 h for snapshots, 20 min for server actions; exports and
/// imports of large images take longer).
public struct Timeouts: Sendable {
    public var snapshot: Duration = .seconds(3600)
    public var export: Duration = .seconds(4 * 3600)
    public var importImage: Duration = .seconds(4 * 3600)
    public var volume: Duration = .seconds(1800)
    public var serverAction: Duration = .seconds(1200)

    public init() {}
}
