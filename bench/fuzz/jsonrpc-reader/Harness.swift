// libFuzzer target `jsonrpc-reader`: the stdin path of the plugin before
// dispatch. The input is a byte stream read by LineReader from a file, every
// line it delivers parsed by JSONParser (as the connection does, with and
// without detached strings), every oversized line's head parsed for its id.
//
// The first input byte picks the limits (so short inputs reach the
// oversized-line and chunk-boundary paths): bits 0-1 the maximum line length
// (16, 64, 256 or 4096 bytes), bits 2-4 the read(2) size (2 bytes to 1 MiB),
// bit 5 whether a line of 8 bytes or more already makes the reader read the
// next line straight into its own array (otherwise the plugin's 64 KiB,
// which these short inputs rarely reach).
//
// Checks, beyond "no crash, no hang, bounded memory":
// - framing: the events equal a reference split of the stream (lines at
//   '\n', one trailing '\r' dropped, blank lines skipped, lines over the
//   limit reported as oversized with a head that is a prefix of the line);
// - parsing does not depend on the detach threshold (same verdict; detached
//   ranges are inside the line and hold plain ASCII);
// - error offsets lie within the line;
// - JSONWriter output of a parsed value has no raw byte below 0x20 (a raw
//   '\n' would break the framing of every later response), is valid UTF-8,
//   and parses back to an equal value;
// - a string value that decodes as base64 decodes the same way in
//   Foundation, and re-encodes to something that decodes to the same bytes.
import Foundation
@testable import JSONRPC

let lineLimits = [16, 64, 256, 4096]
let chunkSizes = [2, 7, 64, 511, 1024, 4096, 4096, 1 << 20]

/// One unlinked scratch file reused for every input.
let streamFD: Int32 = {
    var template = Array("/dev/shm/jsonrpc-fuzz-XXXXXX".utf8CString)
    var fd = mkstemp(&template)
    if fd < 0 {
        template = Array("/tmp/jsonrpc-fuzz-XXXXXX".utf8CString)
        fd = mkstemp(&template)
    }
    precondition(fd >= 0, "cannot create a scratch file")
    unlink(template)
    return fd
}()

enum Framed: Equatable {
    case line([UInt8])
    case oversized(raw: [UInt8], stripped: Int)
}

/// The reference framing: what LineReader must deliver for `stream`.
func referenceFraming(_ stream: ArraySlice<UInt8>, limit: Int) -> [Framed] {
    var out: [Framed] = []
    var segments = stream.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
    if segments.last?.isEmpty == true { segments.removeLast() }  // stream ends with '\n' (or is empty)
    for raw in segments {
        var line = raw
        if line.last == 0x0D { line.removeLast() }
        if line.count > limit {
            out.append(.oversized(raw: raw, stripped: line.count))
        } else if !line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A }) {
            out.append(.line(line))
        }
    }
    return out
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    guard size > 0, let data else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = lineLimits[Int(input[0] & 3)]
    let chunk = chunkSizes[Int(input[0] >> 2 & 7)]
    let direct = input[0] & 0x20 != 0 ? 8 : 64 << 10
    let stream = input[1...]

    let fd = streamFD
    precondition(ftruncate(fd, 0) == 0)
    if !stream.isEmpty {
        let written = stream.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        precondition(written == stream.count)
    }
    precondition(lseek(fd, 0, SEEK_SET) == 0)

    var events: [LineReader.Event] = []
    LineReader(fd: fd, maxLineLength: limit, chunkSize: chunk, directReadThreshold: direct).run { events.append($0) }

    let expected = referenceFraming(stream, limit: limit)
    guard case .end = events.last else { fatalError("the reader did not end with .end: \(events.last.map { "\($0)" } ?? "nothing")") }
    events.removeLast()
    expect(events.count == expected.count, "\(events.count) events for \(expected.count) framed lines (limit \(limit), chunk \(chunk), direct \(direct))")
    for (event, reference) in zip(events, expected) {
        switch (event, reference) {
        case let (.line(bytes), .line(line)):
            expect(bytes == line, "line \(bytes) delivered for \(line)")
            checkParse(bytes)
        case let (.oversized(byteCount, head), .oversized(raw, stripped)):
            expect(byteCount == raw.count || byteCount == stripped, "oversized count \(byteCount) for a line of \(raw.count) bytes")
            expect(!head.isEmpty && head.count <= 64 << 10 && raw.starts(with: head), "oversized head is not a prefix of the line")
            // The connection parses the head to answer with the request's id.
            do throws(JSONParseError) { _ = try JSONParser.parse(head) } catch {
                expect(error.offset >= 0 && error.offset <= head.count, "error offset \(error.offset) outside the head")
                if let id = error.recoveredID { expect(RequestID(id) != nil, "recovered id \(id) is not a string or number") }
            }
        default:
            fatalError("event \(event) where the reference frames \(reference) (limit \(limit), chunk \(chunk))")
        }
    }
    return 0
}

func checkParse(_ line: [UInt8]) {
    let plain: JSONParser.Result?
    do throws(JSONParseError) { plain = try JSONParser.parse(line) } catch {
        expect(error.offset >= 0 && error.offset <= line.count, "error offset \(error.offset) outside the line")
        plain = nil
    }
    let detaching: JSONParser.Result?
    do throws(JSONParseError) { detaching = try JSONParser.parse(line, options: .init(detachStringsLongerThan: 8)) } catch {
        detaching = nil
    }
    expect((plain == nil) == (detaching == nil), "the detach threshold changed the verdict on a line")
    if let detaching {
        for detached in detaching.detached {
            expect(detached.range.lowerBound >= 0 && detached.range.upperBound <= line.count && detached.range.count >= 8,
                   "detached range \(detached.range) outside the line")
            expect(line[detached.range].allSatisfy { $0 >= 0x20 && $0 < 0x80 && $0 != 0x22 && $0 != 0x5C },
                   "detached string holds bytes that need decoding")
        }
    }
    guard let value = plain?.value else { return }
    let written = JSONWriter.bytes(value)
    expect(!written.contains { $0 < 0x20 }, "JSONWriter emitted a raw control byte")
    expect(String(validating: written, as: UTF8.self) != nil, "JSONWriter emitted invalid UTF-8")
    do throws(JSONParseError) {
        let again = try JSONParser.parse(written).value
        expect(again == value, "the written value parses to a different value")
    } catch {
        fatalError("JSONWriter output does not parse: \(error)")
    }
    visitStrings(value) { checkBase64($0) }
}

func visitStrings(_ value: JSONValue, _ body: (String) -> Void) {
    switch value {
    case let .string(s): body(s)
    case let .array(elements): elements.forEach { visitStrings($0, body) }
    case let .object(members): members.forEach { body($0.key); visitStrings($0.value, body) }
    default: break
    }
}

func checkBase64(_ text: String) {
    let decoded: [UInt8]
    do throws(Base64.DecodingError) { decoded = try Base64.decode(text) } catch {
        expect(error.offset >= 0 && error.offset <= text.utf8.count, "base64 error offset outside the text")
        return
    }
    if let reference = Data(base64Encoded: text) {
        expect(Array(reference) == decoded, "Base64.decode and Foundation disagree on \(text)")
    }
    let encoded = Base64.encode(decoded)
    expect(encoded.count == Base64.encodedCount(decoded.count), "encodedCount is wrong for \(decoded.count) bytes")
    do throws(Base64.DecodingError) {
        let again = try Base64.decode(String(decoding: encoded, as: UTF8.self))
        expect(again == decoded, "base64 re-encoding does not round-trip")
    } catch {
        fatalError("Base64.encode output does not decode: \(error)")
    }
}

/// A failed invariant is a crash: libFuzzer records the input.
@inline(__always)
func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}
