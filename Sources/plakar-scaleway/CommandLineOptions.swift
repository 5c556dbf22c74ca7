import Logging

/// The plugin's command line: it takes no arguments when Plakar runs it;
/// the flags are for people.
struct CommandLineOptions {
    enum Action { case serve, help, version, manifest }

    var action: Action = .serve
    var logLevel: Logger.Level?
    /// Seconds requests may still run after stdin ends.
    var endOfInputGrace: Int?

    struct UsageError: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ arguments: [String]) throws -> CommandLineOptions {
        var options = CommandLineOptions()
        var rest = arguments[...]
        func value(_ name: String, inline: String?) throws -> String {
            if let inline { return inline }
            guard let next = rest.popFirst() else { throw UsageError(description: "\(name) needs a value") }
            return next
        }
        while let argument = rest.popFirst() {
            let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
            let name = parts[0]
            let inline = parts.count == 2 ? parts[1] : nil
            switch name {
            case "-h", "--help": options.action = .help
            case "--version": options.action = .version
            case "--manifest": options.action = .manifest
            case "--log-level":
                let text = try value(name, inline: inline)
                guard let level = Logger.Level(name: text) else {
                    throw UsageError(description: "--log-level must be one of trace, debug, info, warning, error, off; got \"\(text)\"")
                }
                options.logLevel = level
            case "--eof-grace":
                let text = try value(name, inline: inline)
                guard let seconds = Int(text), seconds >= 0 else {
                    throw UsageError(description: "--eof-grace must be a number of seconds, got \"\(text)\"")
                }
                options.endOfInputGrace = seconds
            default:
                throw UsageError(description: "unknown argument \"\(argument)\"")
            }
        }
        return options
    }
}
