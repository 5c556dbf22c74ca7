// Client-layer benchmark (issue 4): uploads then downloads one large object
// through ScalewayKit in a small process of its own, so its resident memory is
// the client's and not a test runner's (the XCTest binary idles at 44 MiB,
// this one at about 20). Built by bench/client-run with swiftc against the
// release build's ScalewayKit objects, like bench/protocol.
//
//   bench-client ENDPOINT ACCESS_KEY SECRET_KEY BUCKET BYTES [upload|download|both] [UPLOAD_CONCURRENCY]
//
// UPLOAD_CONCURRENCY (default: ObjectStorageOptions' default) caps the parts
// in flight; the writer's part memory budget caps them too.
//
// Prints one JSON line per phase: bytes, seconds, MB/s, the process's peak
// RSS in the phase (VmHWM, reset between phases) and its RSS before it.
import Foundation
import ScalewayKit

func status(_ name: String) -> Int64 {
    let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
        return (Int64(line.split(separator: " ").dropFirst().first ?? "") ?? -1) * 1024
    }
    return -1
}

/// Resets the kernel's peak-RSS counter (Linux `clear_refs` 5) after giving
/// freed heap back, so one phase's peak does not carry the previous one's.
func resetPeak() {
    typealias MallocTrim = @convention(c) (Int) -> Int32
    if let symbol = dlsym(dlopen(nil, RTLD_NOW), "malloc_trim") { _ = unsafeBitCast(symbol, to: MallocTrim.self)(0) }
    try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
}

func report(_ phase: String, _ bytes: Int64, _ started: ContinuousClock.Instant, before: Int64, extra: String = "") {
    let seconds = (ContinuousClock.now - started) / .seconds(1)
    let peak = status("VmHWM:")
    func fixed(_ value: Double) -> String { String(format: "%.1f", value) }
    print("{\"phase\":\"\(phase)\",\"bytes\":\(bytes),\"seconds\":\(String(format: "%.3f", seconds)),"
        + "\"mb_per_s\":\(fixed(Double(bytes) / seconds / 1e6)),\"rss_before_mib\":\(fixed(Double(before) / 1048576)),"
        + "\"peak_rss_mib\":\(fixed(Double(peak) / 1048576))\(extra)}")
}

let arguments = CommandLine.arguments
guard arguments.count >= 6, let size = Int64(arguments[5]) else {
    FileHandle.standardError.write(Data("usage: bench-client ENDPOINT ACCESS_KEY SECRET_KEY BUCKET BYTES [upload|download|both]\n".utf8))
    exit(2)
}
let (endpoint, bucket, mode) = (arguments[1], arguments[4], arguments.count > 6 ? arguments[6] : "both")
let key = "bench-client/object"
var options = ObjectStorageOptions()
if arguments.count > 7, let concurrency = Int(arguments[7]) { options.uploadConcurrency = concurrency }
let storage = try ObjectStorageClient(transport: try Transport(),
                                      credentials: ScalewayCredentials(accessKey: arguments[2], secretKey: arguments[3]),
                                      region: .frPar, endpoints: ScalewayEndpoints(s3Endpoint: endpoint), options: options)

if mode != "download" {
    // The restore flow's shape: 1 MiB appends into the streaming writer
    // (Tests/ScalewayKitTests/SyntheticUpload.swift, compiled in).
    resetPeak()
    let before = status("VmRSS:")
    let started = ContinuousClock.now
    let result = try await SyntheticUpload.push(size, through: storage.makeMultipartWriter(bucket: bucket, key: key, expectedSize: size))
    report("upload", result.size, started, before: before, extra: ",\"parts\":\(result.partCount)")
}
if mode != "upload" {
    resetPeak()
    let before = status("VmRSS:")
    let started = ContinuousClock.now
    final class Counter: @unchecked Sendable {
        // @unchecked Sendable invariant: only the one transfer thread of the
        // single-stream GET touches `bytes`, and it is read after the GET returns.
        var bytes: Int64 = 0
    }
    let counter = Counter()
    try await storage.getObject(bucket: bucket, key: key) { counter.bytes += Int64($0.count) }
    report("download", counter.bytes, started, before: before)
}
