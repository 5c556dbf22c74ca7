import Foundation
import JSONRPC
import Logging
import PluginProtocol
import ScalewayConnector

// stdout is the protocol channel: a closed pipe must surface as EPIPE.
JSONRPCConnection.ignoreSIGPIPE()

MallocTuning.apply()

let options: CommandLineOptions
do {
    options = try CommandLineOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("plakar-scaleway: \(error)\nTry plakar-scaleway --help.\n".utf8))
    exit(2)
}

switch options.action {
case .help:
    FileHandle.standardOutput.write(Data(HelpText.text.utf8))
    exit(0)
case .version:
    FileHandle.standardOutput.write(Data("plakar-scaleway \(ManifestInfo.version) (protocol \(ManifestInfo.protocolVersion))\n".utf8))
    exit(0)
case .manifest:
    FileHandle.standardOutput.write(Data(embeddedManifest.utf8))
    exit(0)
case .serve:
    break
}

if let level = options.logLevel { Logger.setThreshold(level) }

var factories: [any ConnectorFactory] = [ScalewayConnectorFactory()]
if ProcessInfo.processInfo.environment[MemoryTestConnectorFactory.environmentSwitch] == "1" {
    factories.append(MemoryTestConnectorFactory())
}
let server = PluginServer(registry: ConnectorRegistry(factories), endOfInputGrace: options.endOfInputGrace.map { .seconds($0) })
let reason = await server.run()
Logger(label: "main").debug("exiting after \(reason)")
exit(0)
