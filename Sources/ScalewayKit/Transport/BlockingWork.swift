import Foundation

/// Runs blocking work (file reads, hashing of file ranges) on a dedicated
/// thread and awaits its result, so it never occupies a thread of Swift's
/// cooperative pool.
enum BlockingWork {
    static func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}
