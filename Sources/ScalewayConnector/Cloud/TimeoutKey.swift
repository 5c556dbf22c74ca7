/// The configuration keys that bound how long the connector waits: their
/// names, defaults, accepted ranges and what they are for.
///
/// Defaults follow real tools: 30 s to connect (Go's dial timeout, used by
/// Scaleway's SDK, CLI and Terraform provider), 60 s of stall (the AWS CLI's
/// read timeout), 1 h for a snapshot (the Terraform provider), 12 h for an
/// export or import (they run at tens of MB/s: hours for big volumes).
public enum TimeoutKey: String, Sendable, CaseIterable {
    case connect = "connect_timeout"
    case stall = "stall_timeout"
    case snapshot = "snapshot_timeout"
    case export = "export_timeout"
    case importImage = "import_timeout"

    /// The configuration key.
    public var name: String { rawValue }

    public var defaultValue: Duration {
        switch self {
        case .connect: .seconds(30)
        case .stall: .seconds(60)
        case .snapshot: .seconds(3600)
        case .export, .importImage: .seconds(12 * 3600)
        }
    }

    /// Accepted values: at least 1 s (libcurl counts the stall time in
    /// whole seconds), at most a bound past which a wait is surely a mistake.
    public var range: ClosedRange<Duration> {
        switch self {
        case .connect: .seconds(1) ... .seconds(600)
        case .stall: .seconds(1) ... .seconds(3600)
        case .snapshot, .export, .importImage: .seconds(1) ... .seconds(7 * 24 * 3600)
        }
    }

    /// An example value for error messages.
    public var example: String {
        switch self {
        case .connect: "30s"
        case .stall: "60s"
        case .snapshot: "1h"
        case .export, .importImage: "12h"
        }
    }

    /// What the key bounds, for hints.
    public var purpose: String {
        switch self {
        case .connect: "connect_timeout bounds establishing each TCP+TLS connection"
        case .stall: "stall_timeout aborts a transfer that moves less than 1 KiB/s for that long (idempotent calls are then retried)"
        case .snapshot: "snapshot_timeout bounds the wait for each volume snapshot to complete"
        case .export: "export_timeout bounds the wait for each snapshot's export to Object Storage (hours for big volumes)"
        case .importImage: "import_timeout bounds the wait for each image's import as a snapshot (hours for big volumes)"
        }
    }
}
