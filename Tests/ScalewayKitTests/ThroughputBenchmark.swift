import Foundation
import Synchronization
import Testing
@testable import ScalewayKit

/// Benchmark, not a test of behaviour: upload and download a large object
/// (1 GiB, or `PLAKAR_SCALEWAY_BENCH_BYTES`, e.g. 4294967296) through
/// `rclone serve s3`, checking that a transfer adds less than 64 MiB to the
/// process's resident memory (the test binary's own baseline, ~42 MiB with
/// the simulator linked in, is reported separately), and
/// comparing the throughput with the curl command line on the same endpoint.
/// The absolute bound (the whole process under 64 MiB) is measured by
/// `bench/client-run`, the same upload in a small process of its own.
/// Runs only with `PLAKAR_SCALEWAY_HEAVY=1`; results go to stderr as `BENCH` lines.
@Suite(.serialized, .enabled(if: ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_HEAVY"] == "1"))
struct ThroughputBenchmark {
    static let size = Int64(ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_BENCH_BYTES"] ?? "") ?? (1 << 30)
    static let rssLimit: Int64 = 64 << 20

    /// Resets the kernel's peak-RSS counter of this process (Linux `clear_refs` 5).
    /// Also returns freed heap memory to the kernel first, so a phase's peak
    /// is not inflated by what the previous phase freed.
    static func resetPeakRSS() {
        typealias MallocTrim = @convention(c) (Int) -> Int32
        if let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") { _ = unsafeBitCast(symbol, to: MallocTrim.self)(0) }
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
    }

    /// Peak and current resident set size, in bytes.
    static func rss() -> (peak: Int64, current: Int64) {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int64 {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name) }) else { return -1 }
            return (Int64(line.split(separator: " ").dropFirst().first ?? "") ?? -1) * 1024
        }
        return (field("VmHWM:"), field("VmRSS:"))
    }

    static func report(_ text: String) { FileHandle.standardError.write(Data("BENCH \(text)\n".utf8)) }

    static func rate(_ bytes: Int64, _ duration: Duration) -> String {
        String(format: "%.0f MB/s", Double(bytes) / duration.seconds / 1e6)
    }

    @Test func largeObjectRoundTripInBoundedMemory() async throws {
        let server = try await ObjectStorageIndependentServerTests.RcloneS3()
        defer { server.stop() }
        let storage = try ObjectStorageClient(
            transport: try Transport(),
            credentials: ScalewayCredentials(accessKey: ObjectStorageIndependentServerTests.accessKey,
                                             secretKey: ObjectStorageIndependentServerTests.secretKey),
            region: .frPar, endpoints: ScalewayEndpoints(s3Endpoint: server.endpoint),
            options: ObjectStorageOptions(downloadConcurrency: 4, downloadRangeSize: 8 << 20))
        let size = Self.size
        let baseline = Self.rss().current
        Self.report("size \(size) bytes, baseline RSS \(baseline >> 20) MiB")

        // Upload through the streaming writer, 1 MiB at a time (the restore flow's shape).
        Self.resetPeakRSS()
        var started = ContinuousClock.now
        let upload = try await SyntheticUpload.push(size, through: storage.makeMultipartWriter(bucket: "bkt", key: "big.qcow2",
                                                                                             expectedSize: size))
        let uploadTime = ContinuousClock.now - started
        let uploadPeak = Self.rss().peak
        Self.report("upload (writer, default 8 MiB parts, 2 in flight): \(Self.rate(size, uploadTime)), \(upload.partCount) parts, peak RSS \(uploadPeak >> 20) MiB")
        #expect(upload.size == size)

        // Download as one stream into a counting sink.
        Self.resetPeakRSS()
        let received = Atomic<Int64>(0)
        started = ContinuousClock.now
        try await storage.getObject(bucket: "bkt", key: "big.qcow2") { piece in
            received.add(Int64(piece.count), ordering: .relaxed)
        }
        let streamTime = ContinuousClock.now - started
        let streamPeak = Self.rss().peak
        Self.report("download (one stream): \(Self.rate(size, streamTime)), peak RSS \(streamPeak >> 20) MiB")
        #expect(received.load(ordering: .relaxed) == size)

        // Download with parallel ranged GETs.
        Self.resetPeakRSS()
        let parallel = Atomic<Int64>(0)
        started = ContinuousClock.now
        try await storage.downloadObject(bucket: "bkt", key: "big.qcow2") { _, piece in
            parallel.add(Int64(piece.count), ordering: .relaxed)
        }
        let parallelTime = ContinuousClock.now - started
        let parallelPeak = Self.rss().peak
        Self.report("download (4 ranges of 8 MiB in flight): \(Self.rate(size, parallelTime)), peak RSS \(parallelPeak >> 20) MiB")
        #expect(parallel.load(ordering: .relaxed) == size)

        // The curl command line on the same endpoint, for comparison.
        let user = "\(ObjectStorageIndependentServerTests.accessKey):\(ObjectStorageIndependentServerTests.secretKey)"
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") {
            started = ContinuousClock.now
            _ = try await TestSupport.run("curl", ["-sS", "-f", "-o", "/dev/null", "--aws-sigv4", "aws:amz:fr-par:s3", "--user", user,
                                                   "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", "\(server.endpoint)/bkt/big.qcow2"])
            Self.report("curl download (one stream): \(Self.rate(size, ContinuousClock.now - started))")
        } else {
            Self.report("curl command line not installed: no comparison")
        }

        for peak in [uploadPeak, streamPeak, parallelPeak] {
            #expect(peak - baseline < Self.rssLimit, "peak RSS \(peak >> 20) MiB over a \(baseline >> 20) MiB baseline")
        }
        try await storage.deleteObject(bucket: "bkt", key: "big.qcow2")
    }
}
