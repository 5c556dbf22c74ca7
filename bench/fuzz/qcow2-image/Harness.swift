// libFuzzer target `qcow2-image`: a whole arbitrary file given to
// QCOW2Inspector and QCOW2Reader, as a restore does with a received image,
// then the virtual content of its allocated ranges read back.
//
// Checks, beyond "no crash, no hang, bounded memory":
// - only QCOW2Error is thrown;
// - allocated ranges are non-empty, increasing, disjoint, inside the disk;
// - reading the same bytes in one call or in odd-sized pieces gives the same
//   bytes; bytes outside the allocated ranges read as zeros;
// - when the inspector accepts the image, reading its content can fail only
//   with `corrupt` (a compressed cluster that does not inflate: the one
//   thing the inspector does not look at), never with `truncated`;
// - a read past the virtual size is refused with `invalid_argument`.
//
// Reading is capped at `readBudget` bytes per input: a few KiB of L2 entries
// may legitimately map gigabytes of virtual disk (all pointing at one
// cluster), which is amplification by design, not a bug.
#if canImport(Glibc)
import Glibc
#endif
@testable import QCOW2

let readBudget: UInt64 = 4 << 20

/// One unlinked scratch file reused for every input.
let imageFD: Int32 = {
    var template = Array("/dev/shm/qcow2-fuzz-XXXXXX".utf8CString)
    var fd = mkstemp(&template)
    if fd < 0 {
        template = Array("/tmp/qcow2-fuzz-XXXXXX".utf8CString)
        fd = mkstemp(&template)
    }
    precondition(fd >= 0, "cannot create a scratch file")
    unlink(template)
    return fd
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let fd = imageFD
    precondition(ftruncate(fd, 0) == 0)
    if size > 0 { precondition(pwrite(fd, data, size, 0) == size) }

    let inspection: QCOW2Inspection?
    do {
        inspection = try QCOW2Inspector.inspect(fileDescriptor: fd, virtualSizeRange: nil)
    } catch let error as QCOW2Error {
        _ = error.description
        inspection = nil
    } catch {
        fatalError("inspect threw a non-QCOW2Error: \(error)")
    }
    if let inspection {
        expect(inspection.requiredFileSize <= inspection.fileSize, "inspection accepted a truncated image")
        _ = inspection.allocatedVirtualBytes
    }

    let reader: QCOW2Reader
    do {
        reader = try QCOW2Reader(fileDescriptor: fd)
    } catch let error as QCOW2Error {
        expect(inspection == nil, "the inspector accepted an image the reader refuses: \(error)")
        return 0
    } catch {
        fatalError("QCOW2Reader.init threw a non-QCOW2Error: \(error)")
    }
    let virtualSize = reader.virtualSize

    var ranges: [Range<UInt64>] = []
    var listed = false
    do {
        try reader.forEachAllocatedRange { range in
            expect(!range.isEmpty && range.upperBound <= virtualSize, "allocated range \(range) outside 0..<\(virtualSize)")
            if let last = ranges.last { expect(last.upperBound < range.lowerBound, "ranges \(last) and \(range) out of order or adjacent") }
            ranges.append(range)
        }
        listed = true
    } catch let error as QCOW2Error {
        expect(inspection == nil, "the inspector accepted an image whose ranges cannot be listed: \(error)")
    } catch {
        fatalError("forEachAllocatedRange threw a non-QCOW2Error: \(error)")
    }

    var budget = readBudget
    func checkedRead(_ offset: UInt64, _ count: Int) -> [UInt8]? {
        do {
            return try reader.read(at: offset, count: count)
        } catch let error as QCOW2Error {
            if inspection != nil {
                expect(error.reason == .corrupt, "the inspector accepted an image whose content fails with \(error)")
            }
            return nil
        } catch {
            fatalError("read threw a non-QCOW2Error: \(error)")
        }
    }

    var previousEnd: UInt64 = 0
    for range in ranges {
        // Zeros in the gap before the range (at most 4 KiB of it), when the
        // listing is complete (else the gap may hold what it did not reach).
        let gap = min(range.lowerBound - previousEnd, 4096)
        if listed, gap > 0, let zeros = checkedRead(range.lowerBound - gap, Int(gap)) {
            expect(zeros.allSatisfy { $0 == 0 }, "unallocated bytes before \(range) do not read as zeros")
        }
        previousEnd = range.upperBound
        if budget == 0 { continue }

        let length = min(range.upperBound - range.lowerBound, budget, 256 << 10)
        budget -= length
        guard let whole = checkedRead(range.lowerBound, Int(length)) else { continue }
        // The same bytes in pieces of an odd size that crosses clusters.
        var pieces: [UInt8] = []
        pieces.reserveCapacity(whole.count)
        var offset = range.lowerBound
        let step = UInt64(reader.header.clusterSize / 2 + 1)
        while offset < range.lowerBound + length {
            let count = min(step, range.lowerBound + length - offset)
            guard let piece = checkedRead(offset, Int(count)) else { fatalError("a piece failed where the whole read succeeded") }
            pieces += piece
            offset += count
        }
        expect(pieces == whole, "reading \(range.lowerBound)+\(length) in pieces differs from one read")
    }
    if listed, virtualSize > previousEnd, let tail = checkedRead(previousEnd, Int(min(virtualSize - previousEnd, 4096))) {
        expect(tail.allSatisfy { $0 == 0 }, "unallocated bytes after the last range do not read as zeros")
    }

    do {
        _ = try reader.read(at: virtualSize, count: 1)
        fatalError("a read past the virtual size succeeded")
    } catch let error as QCOW2Error {
        expect(error.reason == .invalidArgument, "a read past the end failed with \(error)")
    } catch {
        fatalError("read threw a non-QCOW2Error: \(error)")
    }
    expect((try? reader.read(at: virtualSize, count: 0)) == [], "an empty read at the end failed")
    return 0
}

/// A failed invariant is a crash: libFuzzer records the input.
@inline(__always)
func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}
