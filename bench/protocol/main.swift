// Protocol overhead benchmark: the data path's base64 + JSON-RPC framing,
// per core, using the JSONRPC module exactly as the plugin does.
//
//   encode: a `read` answer — MessageLine.result(id:, Base64ObjectJSON) —
//           raw bytes in, one complete response line out.
//   decode: a `write` request line — JSONParser with the detach threshold,
//           then Base64.decode of the detached `data` member — line in,
//           raw bytes out.
//
// Built by bench/run with swiftc against the release build's JSONRPC and
// Logging objects (no Package.swift change). Prints one JSON line.
// Throughput is counted in raw (decoded) bytes per second on one thread.
import Foundation
import JSONRPC

let args = CommandLine.arguments
let chunk = args.count > 1 ? Int(args[1])! : 1 << 20
let totalBytes = args.count > 2 ? Int(args[2])! : 2 << 30
let iterations = max(1, totalBytes / chunk)

// Incompressible payload (xorshift), like an image's data.
var payload = [UInt8](repeating: 0, count: chunk)
var state: UInt64 = 0x9E37_79B9_7F4A_7C15
for i in 0..<chunk {
    state ^= state << 13; state ^= state >> 7; state ^= state << 17
    payload[i] = UInt8(truncatingIfNeeded: state)
}

func seconds(_ body: () throws -> Void) rethrows -> Double {
    // CPU time of this thread: the per-core figure, even on a loaded machine.
    func cpu() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
    }
    let start = cpu()
    try body()
    return cpu() - start
}

// Encode: read answers.
var sink = 0
let encodeCPU = seconds {
    for i in 0..<iterations {
        let line = MessageLine.result(id: .number(String(i)),
                                      Base64ObjectJSON(key: "data", bytes: payload, members: [("eof", .bool(false))]))
        sink &+= line.count
    }
}

// Decode: write requests, built once (as Plakar would send them).
let b64 = String(decoding: Base64.encode(payload), as: UTF8.self)
let requestLine = Array(#"{"jsonrpc":"2.0","id":7,"method":"write","params":{"path":"/volumes/0-root.qcow2","offset":1048576,"data":""#.utf8)
    + Array(b64.utf8) + Array(#""}}"#.utf8)
var decodeFailure: String?
let decodeCPU = seconds {
    for _ in 0..<iterations {
        do {
            let parsed = try JSONParser.parse(requestLine, options: .init(detachStringsLongerThan: 4096))
            guard let entry = parsed.detached.first(where: { $0.path.last == "data" }) else {
                decodeFailure = "data member not detached"; return
            }
            let bytes = try requestLine.withUnsafeBytes { raw in
                try Base64.decode(UnsafeRawBufferPointer(rebasing: raw[entry.range]))
            }
            sink &+= bytes.count
        } catch {
            decodeFailure = "\(error)"; return
        }
    }
}
// Breakdown of the decode cost: the parser alone (scanning/validating the
// 1.4 MB string and detaching it), and base64 alone on the same text.
let parseCPU = seconds {
    for _ in 0..<iterations {
        if let parsed = try? JSONParser.parse(requestLine, options: .init(detachStringsLongerThan: 4096)) {
            sink &+= parsed.detached.count
        }
    }
}
let b64Bytes = Array(b64.utf8)
let base64DecodeCPU = seconds {
    for _ in 0..<iterations {
        if let bytes = try? b64Bytes.withUnsafeBytes({ try Base64.decode($0) }) { sink &+= bytes.count }
    }
}
let base64EncodeCPU = seconds {
    for _ in 0..<iterations { sink &+= Base64.encode(payload).count }
}
// Verify the round trip once, so the figures are of correct work.
let check = try! JSONParser.parse(requestLine, options: .init(detachStringsLongerThan: 4096))
let roundTrip = try! requestLine.withUnsafeBytes { raw in
    try Base64.decode(UnsafeRawBufferPointer(rebasing: raw[check.detached.first { $0.path.last == "data" }!.range]))
}
let bytes = Double(iterations * chunk)
print(#"{"chunk":\#(chunk),"bytes":\#(iterations * chunk),"encode_cpu_s":\#(encodeCPU),"decode_cpu_s":\#(decodeCPU),"#
    + #""encode_gb_per_s":\#(bytes / encodeCPU / 1e9),"decode_gb_per_s":\#(bytes / decodeCPU / 1e9),"#
    + #""parse_only_gb_per_s":\#(bytes / parseCPU / 1e9),"base64_decode_only_gb_per_s":\#(bytes / base64DecodeCPU / 1e9),"#
    + #""base64_encode_only_gb_per_s":\#(bytes / base64EncodeCPU / 1e9),"#
    + #""round_trip_ok":\#(roundTrip == payload && decodeFailure == nil),"error":"\#(decodeFailure ?? "")","sink":\#(sink)}"#)
