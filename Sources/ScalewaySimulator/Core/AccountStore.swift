import Foundation
import Logging
import Synchronization

/// The simulated account: resources in memory behind one lock, written
/// through to `state.json` in the state directory after every change, and
/// volume/snapshot contents as sparse files beside it.
///
/// Layout of the state directory:
/// `state.json`, `volumes/<id>.img`, `snapshots/<id>.img`, `tmp/` (work files).
final class AccountStore: Sendable, KeyDirectory {
    let stateDirectory: String
    private let state: Mutex<AccountState>
    private let logger = Logger(label: "scw-sim.state")

    var statePath: String { stateDirectory + "/state.json" }
    var temporaryDirectory: String { stateDirectory + "/tmp" }

    func volumePath(_ id: String) -> String { stateDirectory + "/volumes/\(id).img" }
    func snapshotPath(_ id: String) -> String { stateDirectory + "/snapshots/\(id).img" }

    /// A fresh path for a work file in `tmp/`.
    func temporaryPath(_ suffix: String) -> String { temporaryDirectory + "/\(Identifier.make())\(suffix)" }

    private init(stateDirectory: String, state: AccountState) {
        self.stateDirectory = stateDirectory
        self.state = Mutex(state)
    }

    /// Opens the account saved in `stateDirectory`, or `nil` when there is none yet.
    static func open(stateDirectory: String) throws -> AccountStore? {
        let path = stateDirectory + "/state.json"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .epochSeconds
        let state = try decoder.decode(AccountState.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        try prepareDirectories(stateDirectory)
        return AccountStore(stateDirectory: stateDirectory, state: state)
    }

    /// Creates a new account from `state` (contents are written by the caller).
    static func create(stateDirectory: String, state: AccountState) throws -> AccountStore {
        try prepareDirectories(stateDirectory)
        let store = AccountStore(stateDirectory: stateDirectory, state: state)
        try store.state.withLock { try store.persist($0) }
        return store
    }

    private static func prepareDirectories(_ root: String) throws {
        for sub in ["", "/volumes", "/snapshots", "/tmp"] {
            try FileManager.default.createDirectory(atPath: root + sub, withIntermediateDirectories: true)
        }
        // Work files of a previous run are incomplete by definition.
        let tmp = root + "/tmp"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] {
            try? FileManager.default.removeItem(atPath: tmp + "/" + name)
        }
    }

    /// Reads the state under the lock.
    func read<T>(_ body: (AccountState) throws -> T) rethrows -> T {
        try state.withLock { try body($0) }
    }

    /// Changes the state under the lock and writes it through to disk.
    @discardableResult
    func mutate<T>(_ body: (inout AccountState) throws -> T) rethrows -> T {
        try state.withLock { current in
            let result = try body(&current)
            do { try persist(current) } catch {
                logger.error("cannot save \(statePath): \(error); the state directory must stay writable")
            }
            return result
        }
    }

    private func persist(_ state: AccountState) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .epochSeconds
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(state)
        let tmp = statePath + ".tmp"
        try data.write(to: URL(fileURLWithPath: tmp))
        // The account's key secrets are in it: owner-only.
        chmod(tmp, 0o600)
        guard rename(tmp, statePath) == 0 else { throw SparseFileError(operation: "rename", path: tmp, errno: errno) }
    }

    // MARK: KeyDirectory

    func key(accessKey: String) -> APIKey? {
        // `SCWXXX@<project_id>` targets another project with the same key.
        let base = accessKey.split(separator: "@", maxSplits: 1).first.map(String.init) ?? accessKey
        return state.withLock { s in s.keys.first { $0.accessKey == base } }
    }

    func key(secretKey: String) -> APIKey? {
        state.withLock { s in s.keys.first { $0.secretKey == secretKey } }
    }
}

extension JSONEncoder.DateEncodingStrategy {
    /// Seconds since 1970 as a double (microsecond precision), so a reloaded state renders identical dates.
    static let epochSeconds = JSONEncoder.DateEncodingStrategy.custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(date.timeIntervalSince1970)
    }
}

extension JSONDecoder.DateDecodingStrategy {
    static let epochSeconds = JSONDecoder.DateDecodingStrategy.custom { decoder in
        let container = try decoder.singleValueContainer()
        return Date(timeIntervalSince1970: try container.decode(Double.self))
    }
}
