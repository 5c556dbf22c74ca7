import Foundation

/// The simulated account and its APIs without listeners: the state, the
/// operation runner and the request handler for the REST and control APIs.
/// ``Simulator`` puts it behind HTTP; tests may drive it directly.
final class SimulatorCore: Sendable {
    let store: AccountStore
    let runner: OperationRunner
    let api: ScalewayAPI
    let faults: FaultInjector

    /// Opens the account in `stateDirectory`, seeding it from `seed` when
    /// the directory holds none yet, and resumes in-flight operations.
    ///
    /// - Parameter durations: overrides the saved durations when given.
    init(stateDirectory: String, seed: Seed, objects: any ObjectStorage, inventory: ObjectInventory,
         durations: SimDurations?, codec: any DiskImageCodec, faults: FaultInjector) throws {
        let store: AccountStore
        if let existing = try AccountStore.open(stateDirectory: stateDirectory) {
            store = existing
            // Buckets live in the object store; make sure the seeded ones exist.
            for bucket in store.read(\.buckets) where objects.bucket(named: bucket.name) == nil {
                try inventory.createBucket(bucket)
            }
        } else {
            store = try AccountSeeder.seed(seed, into: stateDirectory, createBucket: inventory.createBucket,
                                           durations: durations ?? .fast)
        }
        for rule in store.read(\.seedFaults) { faults.install(rule) }
        self.store = store
        self.faults = faults
        runner = OperationRunner(store: store, objects: objects, codec: codec)
        let control = ControlAPI(store: store, runner: runner, objects: objects, faults: faults, inventory: inventory)
        api = ScalewayAPI(store: store, runner: runner, objects: objects, faults: faults, control: control)
        if let durations { runner.rebase(to: durations) } else { runner.resumeAll() }
    }

    func stop() { runner.stop() }
}
