/// A ``QCOW2Source`` over bytes held in memory (tests, small disks).
///
/// The whole buffer is one data extent; the writer still leaves clusters
/// that are entirely zero unallocated.
public struct MemorySource: QCOW2Source, Sendable {
    public let bytes: [UInt8]
    public let virtualSize: UInt64

    /// - Parameters:
    ///   - bytes: the start of the disk.
    ///   - virtualSize: the disk size, at least `bytes.count`; the rest reads as zeros.
    public init(bytes: [UInt8], virtualSize: UInt64? = nil) {
        self.bytes = bytes
        self.virtualSize = max(virtualSize ?? UInt64(bytes.count), UInt64(bytes.count))
    }

    public func forEachDataExtent(_ body: (Range<UInt64>) throws -> Void) throws {
        if !bytes.isEmpty { try body(0..<UInt64(bytes.count)) }
    }

    public func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard buffer.count > 0 else { return }
        let start = Int(min(offset, UInt64(bytes.count)))
        let available = min(bytes.count - start, buffer.count)
        bytes.withUnsafeBytes { source in
            if available > 0 {
                buffer.baseAddress!.copyMemory(from: source.baseAddress! + start, byteCount: available)
            }
        }
        if available < buffer.count {
            (buffer.baseAddress! + available).initializeMemory(as: UInt8.self, repeating: 0, count: buffer.count - available)
        }
    }
}
