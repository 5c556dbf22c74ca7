import Synchronization

/// Collects the bytes a streaming GET delivers.
///
/// `@unchecked Sendable`: the buffer is only touched under `lock`; the
/// streaming sink may run on the transport's thread.
final class ByteAccumulator: @unchecked Sendable {
    private let lock = Mutex<[UInt8]>([])

    init(capacity: Int) { lock.withLock { $0.reserveCapacity(capacity) } }

    func append(_ bytes: UnsafeRawBufferPointer) { lock.withLock { $0.append(contentsOf: bytes) } }

    var count: Int { lock.withLock { $0.count } }

    func take() -> [UInt8] { lock.withLock { let out = $0; $0 = []; return out } }
}
