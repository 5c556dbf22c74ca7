// libFuzzer target `qcow2-stream`: QCOW2StreamInspector (the restore's
// check of an image as its chunks arrive) on an arbitrary image, fed whole
// and in pieces of odd sizes, compared with QCOW2Inspector on the same
// bytes as a file.
//
// Checks, beyond "no crash, no hang, bounded memory":
// - only QCOW2Error is thrown;
// - the verdict does not depend on how the stream is cut (same inspection,
//   or the same error reason);
// - an accepted stream references nothing past its end;
// - differential: an image the file inspector accepts is accepted by the
//   stream inspector, and a stream accepted with every L2 table decoded is
//   accepted by the file inspector with the same counts.
//
// Overlapping metadata (fuzz finding 3, fixed): both inspectors refuse it
// with `corrupt` (MetadataMap), so the differential checks cover it. One
// asymmetry is by design: the stream inspector checks a data cluster
// against the refcount blocks only when the refcount table passed before
// the L2 table mapping it; the differential check that needs the file
// inspector to accept skips images laid out otherwise.
#if canImport(Glibc)
import Glibc
#endif
@testable import QCOW2

/// Whether some L2 table lies before the end of the refcount table (the
/// stream inspector then cannot check data against every refcount block).
func l2TableBeforeRefcountTable(_ fd: Int32) -> Bool {
    guard let reader = try? QCOW2Reader(fileDescriptor: fd) else { return false }
    let header = reader.header
    let tableEnd = header.refcountTableOffset &+ UInt64(header.refcountTableClusters) * header.clusterSize
    return reader.l1Table.contains { entry in
        let offset = entry & EntryDecoder.offsetMask
        return offset != 0 && offset < tableEnd
    }
}

/// One unlinked scratch file reused for every input.
let imageFD: Int32 = {
    var template = Array("/dev/shm/qcow2-stream-fuzz-XXXXXX".utf8CString)
    var fd = mkstemp(&template)
    if fd < 0 {
        template = Array("/tmp/qcow2-stream-fuzz-XXXXXX".utf8CString)
        fd = mkstemp(&template)
    }
    precondition(fd >= 0, "cannot create a scratch file")
    unlink(template)
    return fd
}()

enum Verdict: Equatable {
    case accepted(QCOW2StreamInspection)
    case refused(QCOW2Error.Reason)
}

func streamVerdict(_ input: UnsafeRawBufferPointer, pieces: [Int]) -> Verdict {
    var inspector = QCOW2StreamInspector()
    do {
        var offset = 0
        var index = 0
        while offset < input.count {
            let length = min(pieces[index % pieces.count], input.count - offset)
            try inspector.consume(UnsafeRawBufferPointer(rebasing: input[offset..<(offset + length)]))
            offset += length
            index += 1
        }
        return .accepted(try inspector.finish())
    } catch let error as QCOW2Error {
        _ = error.description
        return .refused(error.reason)
    } catch {
        fatalError("the stream inspector threw a non-QCOW2Error: \(error)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let whole = streamVerdict(input, pieces: [max(size, 1)])
    let cut = streamVerdict(input, pieces: [1, 7, 512, 3, 100, 4096, 9])
    expect(whole == cut, "the stream verdict depends on the chunking: \(whole) whole, \(cut) in pieces")

    let fd = imageFD
    precondition(ftruncate(fd, 0) == 0)
    if size > 0 { precondition(pwrite(fd, data, size, 0) == size) }
    let file: QCOW2Inspection?
    do {
        file = try QCOW2Inspector.inspect(fileDescriptor: fd)
    } catch is QCOW2Error {
        file = nil
    } catch {
        fatalError("inspect threw a non-QCOW2Error: \(error)")
    }

    let refcountLate = l2TableBeforeRefcountTable(fd)
    switch whole {
    case let .accepted(stream):
        expect(stream.requiredFileSize <= stream.imageSize, "an accepted stream references past its end")
        if stream.unverifiedL2Tables == 0, !refcountLate {
            guard let file else { fatalError("the stream inspector accepted an image the file inspector refuses") }
            expect(file.dataClusterCount == stream.dataClusterCount && file.compressedClusterCount == stream.compressedClusterCount,
                   "the inspectors count clusters differently: file \(file), stream \(stream)")
        }
    case let .refused(reason):
        expect(file == nil, "the file inspector accepts an image the stream inspector refuses (\(reason))")
    }
    return 0
}

/// A failed invariant is a crash: libFuzzer records the input.
@inline(__always)
func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}
