import Foundation

// The plugin may die mid-write: surface EPIPE as an error, not a signal.
signal(SIGPIPE, SIG_IGN)

let options: RefhostOptions
do {
    options = try RefhostOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    FileHandle.standardError.write(Data("refhost: \(error)\n\n\(RefhostOptions.usage)\n".utf8))
    exit(2)
}

switch options.command {
case .backup: exit(BackupCommand(options: options).run())
case .restore: exit(RestoreCommand(options: options).run())
}
