import Foundation
import Testing
@testable import QCOW2

/// Measures writer and reader throughput on a disk with about 50% data
/// (1 GiB with `PLAKAR_SCALEWAY_HEAVY=1`, 128 MiB otherwise) and checks the
/// result with qemu-img. Numbers go to stdout.
@Suite("QCOW2 throughput")
struct ThroughputTests {
    @Test func writeAndReadHalfFullDisk() throws {
        let size: UInt64 = heavyTestsEnabled ? 1 << 30 : 128 << 20
        let scratch = try ScratchDirectory()
        let raw = scratch.file("half.raw")

        // Alternate 1 MiB of data with 1 MiB of hole; every 8th data MiB has
        // a zero cluster inside, which the writer must leave unallocated.
        var random = DeterministicBytes(seed: 17)
        var block = random.bytes(1 << 20)
        let fd = open(raw, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        var dataBytes: UInt64 = 0
        for (index, offset) in stride(from: UInt64(0), to: size, by: 2 << 20).enumerated() {
            block.withUnsafeMutableBytes { $0.storeBytes(of: UInt64(index), toByteOffset: 0, as: UInt64.self) }
            if index % 8 == 0 {
                for zero in (128 << 10)..<(192 << 10) { block[zero] = 0 }
            }
            let n = block.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
            #expect(n == block.count)
            dataBytes += UInt64(n)
            if index % 8 == 0 { block.withUnsafeMutableBytes { random.fill(UnsafeMutableRawBufferPointer(rebasing: $0[(128 << 10)..<(192 << 10)])) } }
        }
        #expect(ftruncate(fd, off_t(size)) == 0)
        close(fd)

        let image = scratch.file("half.qcow2")
        let writeStart = ContinuousClock.now
        let plan = try QCOW2Writer(source: try SparseFileSource(path: raw)).write(toPath: image)
        let writeTime = ContinuousClock.now - writeStart
        #expect(plan.dataClusterCount == (dataBytes >> 16) - UInt64((size / (2 << 20) + 7) / 8))

        let reader = try QCOW2Reader(path: image)
        let copy = scratch.file("copy.raw")
        let readStart = ContinuousClock.now
        let written = try reader.copy(toSparseFileAt: copy)
        let readTime = ContinuousClock.now - readStart
        #expect(written <= dataBytes)

        try qemuImg("check", "-f", "qcow2", image)
        try qemuImg("compare", "-f", "raw", "-F", "qcow2", raw, image)
        try qemuImg("compare", "-f", "raw", "-F", "raw", raw, copy)

        func rate(_ bytes: UInt64, _ time: Duration) -> String {
            let seconds = Double(time.components.seconds) + Double(time.components.attoseconds) / 1e18
            return String(format: "%.0f MB/s", Double(bytes) / seconds / 1e6)
        }
        print("QCOW2 throughput (\(size >> 20) MiB virtual, \(dataBytes >> 20) MiB data, image \(plan.imageSize >> 20) MiB): "
              + "writer \(writeTime) = \(rate(dataBytes, writeTime)) of data (\(rate(size, writeTime)) virtual), "
              + "reader copy \(readTime) = \(rate(dataBytes, readTime)) of data (\(rate(size, readTime)) virtual)")
    }
}
