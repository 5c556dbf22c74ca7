import Foundation
import PluginTestSupport
import JSONRPC
import Testing

/// The exporter's `write` protocol through the real binary.
@Suite(.serialized) struct WritePathTests {
    static func fileinfo(_ name: String, size: Int) -> JSONValue {
        ["name": .string(name), "size": .int(size), "mode": 420, "mod_time": "2026-12-04T10:00:00.123456789Z",
         "dev": 1, "ino": 2, "uid": 0, "gid": 0, "nlink": 1, "username": "root", "groupname": "root", "flags": 0]
    }

    static func fnv1a64(_ bytes: [UInt8]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes { hash = (hash ^ UInt64(b)) &* 0x0000_0100_0000_01b3 }
        let hex = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func randomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            for i in 0..<count {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                buffer[i] = UInt8(truncatingIfNeeded: state)
            }
            initialized = count
        }
    }

    @Test func filesArriveInChunksPipelinedAndEachYieldsOneOutcome() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("exporter"))
        #expect(try plugin.response(1).result?["flags"] == [])
        // Three files, chunks of varied sizes, all sent without waiting (the write lane keeps order).
        let files: [(path: String, bytes: [UInt8])] = [
            ("/instance.json", Array(#"{"name":"web-01"}"#.utf8)),
            ("/volumes/0-root.qcow2", Self.randomBytes(3 << 20 | 12_345, seed: 1)),
            ("/volumes/empty.qcow2", []),
        ]
        var id = 10
        var finalIDs: [Int: (String, [UInt8])] = [:]
        for file in files {
            var offset = 0
            let chunkSizes = [1, 1000, 65_536, 1 << 20]
            var k = 0
            repeat {
                let size = min(chunkSizes[k % chunkSizes.count], file.bytes.count - offset)
                let chunk = Array(file.bytes[offset..<(offset + size)])
                let eof = offset + size == file.bytes.count
                var params: [(key: String, value: JSONValue)] = [("path", .string(file.path)), ("offset", .int(offset)),
                                                                 ("data", .string(Base64.encodeToString(chunk))), ("eof", .bool(eof))]
                if offset == 0 { params.append(("fileinfo", Self.fileinfo(String(file.path.split(separator: "/").last!), size: file.bytes.count))) }
                plugin.request(id, "write", .object(params))
                if eof { finalIDs[id] = (file.path, file.bytes) }
                id += 1
                offset += size
                k += 1
            } while offset < file.bytes.count
        }
        for (finalID, (path, bytes)) in finalIDs {
            let outcome = try plugin.response(finalID, timeout: 60)
            #expect(outcome.result?["path"] == .string(path))
            #expect(outcome.result?["size"] == .int(bytes.count))
            #expect(outcome.result?["details"]?["fnv1a64"] == .string(Self.fnv1a64(bytes)), "\(path)")
        }
        plugin.request(2, "close")
        let total = files.reduce(0) { $0 + $1.bytes.count }
        #expect(try plugin.response(2).result?["summary"] == ["files": 3, "bytes": .int(total)])
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    static let heavy = ProcessInfo.processInfo.environment["PLAKAR_SCALEWAY_HEAVY"] == "1"

    @Test(.enabled(if: heavy, "16 MiB chunks: set PLAKAR_SCALEWAY_HEAVY=1"))
    func aMaximumSizeChunkGoesThroughTheDataPath() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("exporter"))
        _ = try plugin.response(1)
        let bytes = Self.randomBytes(16 << 20, seed: 99)
        plugin.request(2, "write", ["path": "/big.qcow2", "offset": 0, "data": .string(Base64.encodeToString(bytes)), "eof": true,
                                    "fileinfo": Self.fileinfo("big.qcow2", size: bytes.count)])
        let outcome = try plugin.response(2, timeout: 60)
        #expect(outcome.result?["details"]?["fnv1a64"] == .string(Self.fnv1a64(bytes)))
        // One byte more than the maximum chunk is refused, naming the field.
        let tooBig = [UInt8](repeating: 7, count: (16 << 20) + 1)
        plugin.request(3, "write", ["path": "/bigger", "offset": 0, "data": .string(Base64.encodeToString(tooBig)), "eof": true,
                                    "fileinfo": Self.fileinfo("bigger", size: tooBig.count)])
        let refused = try plugin.response(3, timeout: 60)
        #expect(refused.errorCode == -32602)
        #expect(refused["error"]?["data"]?["field"] == "data")
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func protocolMistakesAreRefusedWithoutEndingTheFile() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("exporter"))
        _ = try plugin.response(1)
        // The first chunk must carry fileinfo.
        plugin.request(2, "write", ["path": "/a", "offset": 0, "data": "YWJj"])
        let noInfo = try plugin.response(2)
        #expect(noInfo.errorCode == -32602)
        #expect(noInfo["error"]?["data"]?["field"] == "fileinfo")
        // A malformed fileinfo names the nested field.
        plugin.request(3, "write", ["path": "/a", "offset": 0, "data": "YWJj", "fileinfo": ["name": "a", "size": 3, "mode": 420, "mod_time": "yesterday"]])
        #expect(try plugin.response(3)["error"]?["data"]?["field"] == "fileinfo.mod_time")
        // A chunk for no file in progress.
        plugin.request(4, "write", ["path": "/a", "offset": 3, "data": "YWJj"])
        #expect(try plugin.response(4).errorKind == "state")
        // Bad base64 in a first chunk is refused before the file begins (so /a may start next).
        plugin.request(40, "write", ["path": "/z", "offset": 0, "data": "YW*j", "fileinfo": Self.fileinfo("z", size: 3)])
        let badFirst = try plugin.response(40)
        #expect(badFirst.errorCode == -32602)
        #expect(badFirst["error"]?["data"]?["field"] == "data")
        // Start /a, then a gap in the offsets is refused; the right offset still works.
        plugin.request(5, "write", ["path": "/a", "offset": 0, "data": "YWJj", "fileinfo": Self.fileinfo("a", size: 6)])
        #expect(try plugin.response(5).result?["received"] == 3)
        plugin.request(6, "write", ["path": "/a", "offset": 4, "data": "ZGVm"])
        let gap = try plugin.response(6)
        #expect(gap.errorCode == -32602)
        #expect(gap["error"]?["message"]?.stringValue?.contains("must be 3") == true)
        // Another file cannot start while /a is unfinished.
        plugin.request(7, "write", ["path": "/b", "offset": 0, "data": "", "eof": true, "fileinfo": Self.fileinfo("b", size: 0)])
        let interleaved = try plugin.response(7)
        #expect(interleaved.errorKind == "state")
        #expect(interleaved["error"]?["message"]?.stringValue?.contains("\"/a\" is still being written") == true)
        // Bad base64 in a later chunk is refused and takes nothing: the same offset still works.
        plugin.request(41, "write", ["path": "/a", "offset": 3, "data": "ZG=m", "eof": true])
        let badLater = try plugin.response(41)
        #expect(badLater.errorCode == -32602)
        #expect(badLater["error"]?["data"]?["field"] == "data")
        plugin.request(8, "write", ["path": "/a", "offset": 3, "data": "ZGVm", "eof": true])
        let done = try plugin.response(8)
        #expect(done.result?["size"] == 6)
        #expect(done.result?["details"]?["fnv1a64"] == .string(Self.fnv1a64(Array("abcdef".utf8))))
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test func aConnectorFailureEndsTheFileAndTheNextFileGoesOn() throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("exporter", ["fail_write": "/bad"]))
        _ = try plugin.response(1)
        plugin.request(2, "write", ["path": "/bad", "offset": 0, "data": "YWJj", "fileinfo": Self.fileinfo("bad", size: 6)])
        plugin.request(3, "write", ["path": "/bad", "offset": 3, "data": "ZGVm", "eof": true])
        plugin.request(4, "write", ["path": "/good", "offset": 0, "data": "YWJj", "eof": true, "fileinfo": Self.fileinfo("good", size: 3)])
        let failed = try plugin.response(2)
        #expect(failed.errorCode == -32007)
        #expect(failed.errorKind == "io")
        #expect(failed["error"]?["data"]?["path"] == "/bad")
        let outcome = try plugin.response(3)     // the same error is the file's outcome
        #expect(outcome["error"] == failed["error"])
        #expect(try plugin.response(4).result?["size"] == 3)
        plugin.request(5, "close")
        #expect(try plugin.response(5).result?["summary"] == ["files": 1, "bytes": 3])
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }

    @Test(arguments: heavy ? [(3 << 20) + 5, 40 << 20] : [(3 << 20) + 5])
    func largeReadsComeBackIntactThroughTheDataPath(size: Int) throws {
        let plugin = try PluginProcess(testConnector: true)
        plugin.request(1, "open", openParams("importer", ["files": "/disk.qcow2:\(size)"]))
        _ = try plugin.response(1)
        plugin.request(2, "list")
        _ = try plugin.response(2)
        let length = size > 16 << 20 ? 16 << 20 : 1 << 20
        for (i, offset) in stride(from: 0, to: size, by: length).enumerated() {
            plugin.request(10 + i, "read", ["path": "/disk.qcow2", "offset": .int(offset), "length": .int(length)])
        }
        for (i, offset) in stride(from: 0, to: size, by: length).enumerated() {
            let answer = try plugin.response(10 + i, timeout: 60)
            let data = try Base64.decode(try #require(answer.result?["data"]?.stringValue))
            let count = min(length, size - offset)
            #expect(data.count == count)
            #expect(data == patternBytes(offset: offset, count: count))
            #expect(answer.result?["eof"] == .bool(offset + count == size))
        }
        plugin.closeInput()
        #expect(try plugin.waitForExit() == 0)
    }
}
