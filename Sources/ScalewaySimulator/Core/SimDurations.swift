import Foundation

/// How long the simulated asynchronous operations take, in seconds.
///
/// `realistic` holds the figures observed on fr-par-1 (see the API
/// reference): an instance snapshot of a 10 GB volume about 100 s, its
/// export about 45 s, an import about 27 s, a block export about 87 s, a
/// block import 1.5 to 3.5 min. Attaching and detaching an SBS volume
/// (`attaching` -> `attached`, `detaching` -> detached) are timed too: the
/// reference records the transient states but no duration, so their few
/// seconds are an estimate. Tests use `fast` (near zero); the demo can scale
/// the realistic figures with a factor.
public struct SimDurations: Sendable, Codable, Equatable {
    public var instanceSnapshot: Double
    public var instanceExport: Double
    public var instanceImport: Double
    public var blockSnapshot: Double
    public var blockExport: Double
    public var blockImport: Double
    /// Block volume `creating` -> `available`.
    public var blockVolumeCreate: Double
    /// SBS volume reference `attaching` -> `attached`.
    public var blockVolumeAttach: Double
    /// SBS volume reference `detaching` -> gone (the volume `available`).
    public var blockVolumeDetach: Double
    public var serverPowerOn: Double
    public var serverPowerOff: Double
    public var serverReboot: Double
    public var serverTerminate: Double

    public init(instanceSnapshot: Double, instanceExport: Double, instanceImport: Double,
                blockSnapshot: Double, blockExport: Double, blockImport: Double, blockVolumeCreate: Double,
                blockVolumeAttach: Double = 3, blockVolumeDetach: Double = 3, serverPowerOn: Double, serverPowerOff: Double, serverReboot: Double, serverTerminate: Double) {
        self.instanceSnapshot = instanceSnapshot
        self.instanceExport = instanceExport
        self.instanceImport = instanceImport
        self.blockSnapshot = blockSnapshot
        self.blockExport = blockExport
        self.blockImport = blockImport
        self.blockVolumeCreate = blockVolumeCreate
        self.blockVolumeAttach = blockVolumeAttach
        self.blockVolumeDetach = blockVolumeDetach
        self.serverPowerOn = serverPowerOn
        self.serverPowerOff = serverPowerOff
        self.serverReboot = serverReboot
        self.serverTerminate = serverTerminate
    }

    /// The figures observed on the real service.
    public static let realistic = SimDurations(
        instanceSnapshot: 100, instanceExport: 45, instanceImport: 27,
        blockSnapshot: 5, blockExport: 87, blockImport: 150, blockVolumeCreate: 2,
        blockVolumeAttach: 3, blockVolumeDetach: 3, serverPowerOn: 40, serverPowerOff: 20, serverReboot: 40, serverTerminate: 15)

    /// Near zero, for tests: transitions still happen asynchronously.
    public static let fast = realistic.scaled(by: 0.001)

    /// Every duration multiplied by `factor`.
    public func scaled(by factor: Double) -> SimDurations {
        SimDurations(
            instanceSnapshot: instanceSnapshot * factor, instanceExport: instanceExport * factor,
            instanceImport: instanceImport * factor, blockSnapshot: blockSnapshot * factor,
            blockExport: blockExport * factor, blockImport: blockImport * factor,
            blockVolumeCreate: blockVolumeCreate * factor, blockVolumeAttach: blockVolumeAttach * factor,
            blockVolumeDetach: blockVolumeDetach * factor, serverPowerOn: serverPowerOn * factor,
            serverPowerOff: serverPowerOff * factor, serverReboot: serverReboot * factor,
            serverTerminate: serverTerminate * factor)
    }

    /// Parses `realistic`, `fast`, or a factor applied to the realistic figures (`0.1`).
    public init?(argument: String) {
        switch argument {
        case "realistic": self = .realistic
        case "fast": self = .fast
        default:
            guard let factor = Double(argument), factor >= 0, factor.isFinite else { return nil }
            self = SimDurations.realistic.scaled(by: factor)
        }
    }

    /// The duration of an operation of `kind` on a snapshot of `family`.
    func seconds(for kind: PendingOperation.Kind, family: SnapshotRecord.Family) -> Double {
        switch (kind, family) {
        case (.snapshot, .instance): instanceSnapshot
        case (.snapshot, .block): blockSnapshot
        case (.export, .instance): instanceExport
        case (.export, .block): blockExport
        case (.importImage, .instance): instanceImport
        case (.importImage, .block): blockImport
        case (.createVolume, _): blockVolumeCreate
        }
    }

    func seconds(forServerAction action: String) -> Double {
        switch action {
        case "poweron": serverPowerOn
        case "reboot": serverReboot
        case "terminate": serverTerminate
        default: serverPowerOff
        }
    }

    enum CodingKeys: String, CodingKey {
        case instanceSnapshot = "instance_snapshot", instanceExport = "instance_export"
        case instanceImport = "instance_import", blockSnapshot = "block_snapshot"
        case blockExport = "block_export", blockImport = "block_import"
        case blockVolumeCreate = "block_volume_create", serverPowerOn = "server_poweron"
        case blockVolumeAttach = "block_volume_attach", blockVolumeDetach = "block_volume_detach"
        case serverPowerOff = "server_poweroff", serverReboot = "server_reboot"
        case serverTerminate = "server_terminate"
    }

    /// Decodes every figure; the attach and detach ones, added later, take
    /// their realistic values when a saved state predates them.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            instanceSnapshot: try c.decode(Double.self, forKey: .instanceSnapshot),
            instanceExport: try c.decode(Double.self, forKey: .instanceExport),
            instanceImport: try c.decode(Double.self, forKey: .instanceImport),
            blockSnapshot: try c.decode(Double.self, forKey: .blockSnapshot),
            blockExport: try c.decode(Double.self, forKey: .blockExport),
            blockImport: try c.decode(Double.self, forKey: .blockImport),
            blockVolumeCreate: try c.decode(Double.self, forKey: .blockVolumeCreate),
            blockVolumeAttach: try c.decodeIfPresent(Double.self, forKey: .blockVolumeAttach) ?? Self.realistic.blockVolumeAttach,
            blockVolumeDetach: try c.decodeIfPresent(Double.self, forKey: .blockVolumeDetach) ?? Self.realistic.blockVolumeDetach,
            serverPowerOn: try c.decode(Double.self, forKey: .serverPowerOn),
            serverPowerOff: try c.decode(Double.self, forKey: .serverPowerOff),
            serverReboot: try c.decode(Double.self, forKey: .serverReboot),
            serverTerminate: try c.decode(Double.self, forKey: .serverTerminate))
    }
}
