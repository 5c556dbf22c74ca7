import ScalewayKit

/// Pushes a synthetic object of `size` bytes through a streaming writer in
/// 1 MiB appends (the restore flow's shape) and finishes it. Shared by the
/// in-process ThroughputBenchmark and the standalone `bench-client`
/// (bench/client-run compiles this file into it), so both measure the same
/// upload.
enum SyntheticUpload {
    static func push(_ size: Int64, through writer: MultipartUploadWriter) async throws -> UploadResult {
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        for i in chunk.indices { chunk[i] = UInt8(truncatingIfNeeded: (i &* 2654435761) >> 13) }
        var written: Int64 = 0
        while written < size {
            chunk[0] = UInt8(truncatingIfNeeded: written >> 20)  // no two chunks alike
            let count = Int(min(Int64(chunk.count), size - written))
            try await writer.append(contentsOf: chunk[0..<count])
            written += Int64(count)
        }
        return try await writer.finish()
    }
}
