import Foundation
import PluginProtocol

/// Polls a resource until a condition holds (Scaleway's tasks are fake:
/// the resource itself must be polled).
///
/// The interval starts short and doubles up to ``maxInterval``, so quick
/// operations (and the simulator's fast mode) finish quickly while long
/// exports are polled every few seconds, as Scaleway's own tools do.
///
/// A wait that runs out throws ``PluginError`` `timeout` naming the
/// operation and, when the limit comes from a configuration key (see
/// ``naming(_:)``), the key to raise.
public struct Poller: Sendable {
    public var initialInterval: Duration
    public var maxInterval: Duration
    /// The configured limits, by key: a timeout equal to one of them names
    /// that key in its error.
    public var knobs: [TimeoutKey: Duration] = [:]

    public static let standard = Poller(initialInterval: .milliseconds(100), maxInterval: .seconds(5))

    public init(initialInterval: Duration, maxInterval: Duration) {
        self.initialInterval = initialInterval
        self.maxInterval = maxInterval
    }

    /// This poller, with timeout errors that name the key of `timeouts`
    /// whose limit ran out.
    public func naming(_ timeouts: Timeouts) -> Poller {
        var named = self
        named.knobs = timeouts.keys
        return named
    }

    /// The timeout error of a wait for `describe` that ran `timeout` out.
    func timeoutError(_ describe: String, timeout: Duration) -> PluginError {
        let limit = ConfigValidation.formatDuration(timeout)
        let keys = knobs.filter { $0.value == timeout }.map(\.key.name).sorted()
        guard !keys.isEmpty else {
            return PluginError(.timeout, "gave up waiting for \(describe) after \(limit)",
                               hint: "the operation may still complete on Scaleway's side; check the console")
        }
        let knob = keys.joined(separator: " or ")
        return PluginError(.timeout, "gave up waiting for \(describe) after \(limit) (the limit set by \(knob))",
                           hint: "the operation may still complete on Scaleway's side (check the console); "
                               + "for big volumes or a busy zone, raise \(knob) (now \(limit)), e.g. \(knob.split(separator: " ")[0])=\(ConfigValidation.formatDuration(timeout * 2))")
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
            guard clock.now < deadline else { throw timeoutError(describe, timeout: timeout) }
            try await Task.sleep(for: interval)
            interval = min(interval * 2, maxInterval)
        }
    }
}

/// How long the connector waits for each kind of operation (Terraform's
/// values: 1 h for snapshots, 20 min for server actions; exports and
/// imports of large images take longer).
public struct Timeouts: Sendable {
    /// `snapshot_timeout`.
    public var snapshot: Duration = TimeoutKey.snapshot.defaultValue
    /// `export_timeout`.
    public var export: Duration = TimeoutKey.export.defaultValue
    /// `import_timeout`.
    public var importImage: Duration = TimeoutKey.importImage.defaultValue
    public var volume: Duration = .seconds(1800)
    public var serverAction: Duration = .seconds(1200)
    /// The limits a configuration key of this run's role sets (empty for
    /// ``init()``): what a timeout error may tell the user to raise.
    public var keys: [TimeoutKey: Duration] = [:]

    public init() {}

    /// The limits `config` sets (its timeout keys or their defaults).
    public init(config: ConnectorConfig) {
        snapshot = config.snapshotTimeout
        export = config.exportTimeout
        importImage = config.importTimeout
        switch config.role {
        case .importer: keys = [.snapshot: snapshot, .export: export]
        case .exporter: keys = [.importImage: importImage]
        }
    }
}
