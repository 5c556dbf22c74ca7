import Dispatch
import Foundation
import Logging
import ScalewaySimulator

/// scw-sim: a local Scaleway (Instance, Block Storage, Object Storage) for
/// tests and demos.
///
///     scw-sim --state DIR [--seed demo|tiny|FILE] [--port N] [--s3-port N]
///             [--tls] [--durations realistic|fast|FACTOR] [--log-level LEVEL]
///
/// The first stdout line is one JSON object describing the endpoints and
/// the seeded keys; the simulator then serves until SIGTERM or SIGINT.

let usage = """
    usage: scw-sim --state DIR [--seed demo|tiny|FILE] [--port N] [--s3-port N] [--tls]
                   [--durations realistic|fast|FACTOR] [--log-level trace|debug|info|warning|error]
    """

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("scw-sim: \(message)\n".utf8))
    exit(2)
}

var stateDirectory: String?
var seedName = "demo"
var port: UInt16 = 0
var s3Port: UInt16 = 0
var tls = false
var durations: SimDurations?
var arguments = CommandLine.arguments.dropFirst().makeIterator()

@MainActor func value(_ option: String) -> String {
    guard let v = arguments.next() else { fail("\(option) needs a value\n\(usage)") }
    return v
}

while let argument = arguments.next() {
    switch argument {
    case "--state": stateDirectory = value(argument)
    case "--seed": seedName = value(argument)
    case "--port":
        guard let p = UInt16(value(argument)) else { fail("--port takes a port number") }
        port = p
    case "--s3-port":
        guard let p = UInt16(value(argument)) else { fail("--s3-port takes a port number") }
        s3Port = p
    case "--tls": tls = true
    case "--durations":
        let text = value(argument)
        guard let d = SimDurations(argument: text) else { fail("--durations takes realistic, fast or a factor (e.g. 0.1), not \(text)") }
        durations = d
    case "--log-level":
        let text = value(argument)
        guard let level = Logger.Level(name: text) else { fail("unknown log level \(text)") }
        Logger.setThreshold(level)
    case "-h", "--help":
        print(usage)
        exit(0)
    default:
        fail("unknown argument \(argument)\n\(usage)")
    }
}

guard let stateDirectory else { fail("--state DIR is required\n\(usage)") }
let seed: Seed
do { seed = try Seed.named(seedName) } catch { fail("cannot read the seed \(seedName): \(error)") }

// A new account defaults to the durations observed on the real service.
let fresh = !FileManager.default.fileExists(atPath: stateDirectory + "/account/state.json")
if durations == nil, fresh { durations = .realistic }

// Signals are handled on a dispatch source, so block their default action first.
signal(SIGTERM, SIG_IGN)
signal(SIGINT, SIG_IGN)
signal(SIGPIPE, SIG_IGN)

let simulator: Simulator
do {
    simulator = try Simulator.start(stateDirectory: stateDirectory, seed: seed, port: port, s3Port: s3Port, tls: tls,
                                    durations: durations)
} catch {
    fail("cannot start: \(error)")
}

FileHandle.standardOutput.write(Data((simulator.endpoints.jsonLine() + "\n").utf8))

let signals = [SIGTERM, SIGINT].map { number -> DispatchSourceSignal in
    let source = DispatchSource.makeSignalSource(signal: number, queue: .main)
    source.setEventHandler {
        Logger(label: "scw-sim").info("signal \(number): stopping")
        simulator.stop()
        exit(0)
    }
    source.resume()
    return source
}
withExtendedLifetime(signals) { dispatchMain() }
