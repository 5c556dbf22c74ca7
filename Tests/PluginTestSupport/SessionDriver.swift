import Foundation

/// Whole backup and restore sessions through the built binary, as Plakar
/// runs them, with hooks where the tests look (staged objects before close)
/// or strike (SIGKILL). Errors are collected, not thrown: the tests judge them.
public enum SessionDriver {
    /// A file of the backup tree. `@unchecked Sendable`: `info` is an immutable JSON tree.
    public struct File: @unchecked Sendable {
        public var path: String
        public var info: [String: Any]
        public var bytes: Data
        public var isDirectory: Bool { ((info["mode"] as? Int) ?? 0) & (1 << 31) != 0 }
        public init(path: String, info: [String: Any], bytes: Data) {
            self.path = path
            self.info = info
            self.bytes = bytes
        }
    }

    /// The answer to one request: its result or its error.
    /// `@unchecked Sendable`: JSON trees, immutable.
    public enum Answer: @unchecked Sendable {
        case ok([String: Any]), failed(PluginProcess.RPCError)
    }

    /// The outcome of a session. `@unchecked Sendable`: JSON trees, immutable.
    public struct Outcome: @unchecked Sendable {
        /// `open`'s result, nil when it failed (its error is the first of ``errors``).
        public var opened: [String: Any]?
        public var files: [File] = []
        public var records: [[String: Any]] = []
        /// A restore's last `write` of each file (or the error that ended it), by path.
        public var writes: [String: Answer] = [:]
        /// Every error, in the order met.
        public var errors: [PluginProcess.RPCError] = []
        public var closeResult: [String: Any]?
        public var closeError: PluginProcess.RPCError?
        /// The `progress` notifications' params, in order.
        public var progress: [[String: Any]] = []
    }

    public static func openParams(_ config: [String: String], mode: String) -> [String: Any] {
        ["protocol": "scaleway-instance", "mode": mode, "config": config, "host": ["hostname": "test", "max_concurrency": 4]]
    }

    /// open, list, concurrent reads (one task per file, 1 MiB reads), `beforeClose`, close.
    public static func backup(_ plugin: PluginProcess, _ config: [String: String],
                              beforeClose: () async throws -> Void = {}) async throws -> Outcome {
        var outcome = Outcome()
        do {
            outcome.opened = try await plugin.call("open", openParams(config, mode: "importer"))
            outcome.records = try await plugin.call("list")["records"] as! [[String: Any]]
        } catch let error as PluginProcess.RPCError {
            outcome.errors.append(error)
            _ = try? await plugin.call("close")
            return outcome
        }
        let results = await withTaskGroup(of: Result<File, PluginProcess.RPCError>.self) { group in
            for record in outcome.records {
                let path = record["pathname"] as! String
                let info = PluginProcess.Message(object: record["fileinfo"] as! [String: Any])
                group.addTask {
                    var file = File(path: path, info: info.object, bytes: Data())
                    if file.isDirectory { return .success(file) }
                    do {
                        while true {
                            let r = try await plugin.call("read", ["path": path, "offset": file.bytes.count, "length": 1 << 20])
                            file.bytes.append(Data(base64Encoded: r["data"] as! String)!)
                            if r["eof"] as! Bool { return .success(file) }
                        }
                    } catch let error as PluginProcess.RPCError {
                        return .failure(error)
                    } catch {
                        return .failure(PluginProcess.RPCError(code: 0, message: "\(error)", data: [:]))
                    }
                }
            }
            var out: [Result<File, PluginProcess.RPCError>] = []
            for await r in group { out.append(r) }
            return out
        }
        for r in results {
            switch r {
            case .success(let f): outcome.files.append(f)
            case .failure(let e): outcome.errors.append(e)
            }
        }
        outcome.files.sort { $0.path < $1.path }
        try await beforeClose()
        await close(plugin, into: &outcome)
        return outcome
    }

    /// open, each file in walk order (1 MiB chunks, `afterChunk` after each),
    /// `beforeClose`, close. A refused file is ended with an empty last
    /// chunk, as the host does.
    public static func restore(_ plugin: PluginProcess, _ files: [File], config: [String: String],
                               afterChunk: (_ path: String, _ offset: Int) async throws -> Void = { _, _ in },
                               beforeClose: () async throws -> Void = {}) async throws -> Outcome {
        var outcome = Outcome()
        do {
            outcome.opened = try await plugin.call("open", openParams(config, mode: "exporter"))
        } catch let error as PluginProcess.RPCError {
            outcome.errors.append(error)
            return outcome
        }
        for file in files.sorted(by: { $0.path < $1.path }) {
            var offset = 0
            var info = file.info
            info["size"] = file.isDirectory ? 0 : file.bytes.count
            repeat {
                let end = min(file.bytes.count, offset + (1 << 20))
                var params: [String: Any] = ["path": file.path, "offset": offset,
                                             "data": file.bytes[offset..<end].base64EncodedString(), "eof": end == file.bytes.count]
                if offset == 0 { params["fileinfo"] = info }
                do {
                    let r = try await plugin.call("write", params)
                    if end == file.bytes.count { outcome.writes[file.path] = .ok(r) }
                } catch let error as PluginProcess.RPCError {
                    outcome.errors.append(error)
                    outcome.writes[file.path] = .failed(error)
                    if end < file.bytes.count {
                        _ = try? await plugin.call("write", ["path": file.path, "offset": end, "data": "", "eof": true])
                    }
                    break
                }
                offset = end
                try await afterChunk(file.path, offset)
            } while offset < file.bytes.count
        }
        try await beforeClose()
        await close(plugin, into: &outcome)
        return outcome
    }

    private static func close(_ plugin: PluginProcess, into outcome: inout Outcome) async {
        do {
            outcome.closeResult = try await plugin.call("close", timeout: 300)
        } catch let error as PluginProcess.RPCError {
            outcome.errors.append(error)
            outcome.closeError = error
        } catch {
            let wrapped = PluginProcess.RPCError(code: 0, message: "\(error)", data: [:])
            outcome.errors.append(wrapped)
            outcome.closeError = wrapped
        }
        outcome.progress = plugin.notifications.filter { $0["method"] as? String == "progress" }.map { $0["params"] as! [String: Any] }
    }
}
