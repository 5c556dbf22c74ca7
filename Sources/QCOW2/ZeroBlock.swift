#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// A read-only block of zeros used to test buffers with `memcmp`, which libc
/// vectorises (fast even in debug builds).
final class ZeroBlock: Sendable {
    static let shared = ZeroBlock()
    static let size = 64 << 10

    // Invariant: written once in init, only read afterwards.
    nonisolated(unsafe) private let zeros: UnsafeMutableRawPointer

    private init() {
        zeros = UnsafeMutableRawPointer.allocate(byteCount: Self.size, alignment: 4096)
        zeros.initializeMemory(as: UInt8.self, repeating: 0, count: Self.size)
    }

    func isZero(_ bytes: UnsafeRawPointer, count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let n = min(Self.size, count - offset)
            if memcmp(bytes + offset, zeros, n) != 0 { return false }
            offset += n
        }
        return true
    }
}
