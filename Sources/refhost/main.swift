import Foundation

// The plugin may die mid-write: surface EPIPE as an error, not a signal.
signal(SIGPIPE, SIG_IGN)

// Every data-path message is a fresh buffer of one to twenty megabytes. By
// default glibc maps each one and unmaps it on free, so every chunk faults
// its pages in anew; keeping such buffers on a heap that is not trimmed
// lets them be reused (about half the system time of a backup). mallopt is
// looked up dynamically: Swift's Glibc module does not export malloc.h.
// M_MMAP_THRESHOLD is -3 and M_TRIM_THRESHOLD is -1 in glibc.
if let symbol = dlsym(nil, "mallopt") {
    typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
    _ = mallopt(-3, 256 << 20)
    _ = mallopt(-1, 1 << 30)
}

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
