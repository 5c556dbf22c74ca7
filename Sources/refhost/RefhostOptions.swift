/// The command line of `refhost`.
struct RefhostOptions: Sendable {
    enum Command: String, Sendable {
        case backup
        case restore
    }

    var command: Command
    /// The plugin executable and the arguments it is started with.
    var plugin: String
    var pluginArguments: [String] = []
    /// The protocol given to `open`; defaults to the scheme of `location`.
    var protocolName: String?
    /// `-o key=value` pairs: the connector's config, all strings.
    var config: [(String, String)] = []
    /// backup: the directory the files are written under.
    var outputDirectory: String?
    /// restore: the directory whose files are sent.
    var inputDirectory: String?
    /// backup: files read concurrently (Plakar's max_concurrency).
    var workers = 4
    /// Bytes per `read` or `write` chunk (Plakar's gRPC transport uses 1 MiB).
    var chunk = 1 << 20
    /// Requests in flight per file (read-ahead, or write-behind).
    var window = 4
    /// Seconds to wait for any one answer.
    var timeout: Double = 900

    static let maximumChunk = 16 << 20  // the protocol's limit on read lengths and write chunks

    static let usage = """
        usage:
          refhost backup  --plugin BIN --out DIR  [--workers N] [--chunk BYTES] [--window N] [--protocol NAME] [--timeout S] [-o key=value ...] [--plugin-arg ARG ...]
          refhost restore --plugin BIN --from DIR [--chunk BYTES] [--window N] [--protocol NAME] [--timeout S] [-o key=value ...] [--plugin-arg ARG ...]

        Drives a plugin over its line-delimited JSON-RPC exactly as the Plakar core would.
        backup:  open (importer), list, read every file with N workers into DIR, close.
        restore: open (exporter), write DIR's files one at a time in walk order, close.
        Progress and log notifications go to stderr with a summary; a one-line JSON
        summary goes to stdout. Exit status 1 on any error, per-file errors included.
        The protocol defaults to the scheme of -o location=SCHEME://...
        """

    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ arguments: [String]) throws(UsageError) -> RefhostOptions {
        guard let first = arguments.first else { throw UsageError(description: "missing command (backup or restore)") }
        guard let command = Command(rawValue: first) else {
            throw UsageError(description: "unknown command \"\(first)\" (expected backup or restore)")
        }
        var options = RefhostOptions(command: command, plugin: "")
        var index = 1
        func value(_ flag: String) throws(UsageError) -> String {
            index += 1
            guard index < arguments.count else { throw UsageError(description: "\(flag) needs a value") }
            return arguments[index]
        }
        func integer(_ flag: String, _ range: ClosedRange<Int>) throws(UsageError) -> Int {
            let text = try value(flag)
            guard let number = Int(text), range.contains(number) else {
                throw UsageError(description: "\(flag) must be an integer in \(range.lowerBound)...\(range.upperBound), got \"\(text)\"")
            }
            return number
        }
        while index < arguments.count {
            let flag = arguments[index]
            switch flag {
            case "--plugin": options.plugin = try value(flag)
            case "--plugin-arg": options.pluginArguments.append(try value(flag))
            case "--protocol": options.protocolName = try value(flag)
            case "--out": options.outputDirectory = try value(flag)
            case "--from": options.inputDirectory = try value(flag)
            case "--workers": options.workers = try integer(flag, 1...256)
            case "--chunk": options.chunk = try integer(flag, 1...maximumChunk)
            case "--window": options.window = try integer(flag, 1...64)
            case "--timeout":
                let text = try value(flag)
                guard let seconds = Double(text), seconds > 0 else {
                    throw UsageError(description: "--timeout must be a positive number of seconds, got \"\(text)\"")
                }
                options.timeout = seconds
            case "-o":
                let pair = try value(flag)
                guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                    throw UsageError(description: "-o takes key=value, got \"\(pair)\"")
                }
                options.config.append((String(pair[..<equals]), String(pair[pair.index(after: equals)...])))
            default:
                throw UsageError(description: "unknown option \"\(flag)\"")
            }
            index += 1
        }
        guard !options.plugin.isEmpty else { throw UsageError(description: "--plugin BIN is required") }
        switch command {
        case .backup where options.outputDirectory == nil:
            throw UsageError(description: "backup needs --out DIR")
        case .restore where options.inputDirectory == nil:
            throw UsageError(description: "restore needs --from DIR")
        default: break
        }
        if options.resolvedProtocol == nil {
            throw UsageError(description: "no protocol: pass --protocol NAME or -o location=NAME://...")
        }
        return options
    }

    var resolvedProtocol: String? {
        if let protocolName { return protocolName }
        guard let location = config.last(where: { $0.0 == "location" })?.1,
              let range = location.range(of: "://"), range.lowerBound != location.startIndex else { return nil }
        return String(location[..<range.lowerBound])
    }
}
