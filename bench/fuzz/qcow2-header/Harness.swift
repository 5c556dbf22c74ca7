// libFuzzer target `qcow2-header`: QCOW2Header.parse / validate on arbitrary
// first bytes of an image (what a restore sees in its first `write` chunk).
//
// Beyond "no crash, no hang, bounded memory", it checks:
// - a parsed header respects the limits parse promises (cluster_bits in
//   9...21, header_length within the first cluster, refcount_order <= 6,
//   extensions inside the input);
// - parse is a function of the bytes: encoding the parsed header and parsing
//   the encoding gives the same header back (images without a backing file,
//   whose name encoded() does not carry);
// - validate agrees with parse + checkPolicy.
@testable import QCOW2

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let header: QCOW2Header
    do {
        header = try QCOW2Header.parse(input)
    } catch let error as QCOW2Error {
        _ = error.description
        expect((try? QCOW2Header.validate(prefix: input)) == nil, "validate accepted what parse refused")
        return 0
    } catch {
        fatalError("parse threw a non-QCOW2Error: \(error)")
    }

    expect(QCOW2Header.clusterBitsRange.contains(header.clusterBits), "cluster_bits \(header.clusterBits) accepted")
    expect(UInt64(header.headerLength) <= header.clusterSize, "header_length beyond the first cluster")
    expect(Int(header.headerLength) <= size, "header_length beyond the input")
    expect(header.refcountOrder <= 6, "refcount_order \(header.refcountOrder) accepted")
    expect(header.version == 2 || header.version == 3, "version \(header.version) accepted")
    var extensionBytes = Int(header.headerLength)
    for ext in header.extensions {
        extensionBytes += 8 + (ext.data.count + 7) & ~7
        _ = ext.kind
    }
    expect(extensionBytes <= size && UInt64(extensionBytes) <= header.clusterSize, "extensions beyond the input or the first cluster")
    _ = header.requiredL1Size
    _ = header.compressionType

    let policy: QCOW2Error?
    do { try header.checkPolicy(virtualSizeRange: 1...(1 << 40)); policy = nil } catch let error as QCOW2Error { policy = error } catch {
        fatalError("checkPolicy threw a non-QCOW2Error: \(error)")
    }
    var validateError: QCOW2Error?
    do { _ = try QCOW2Header.validate(prefix: input, virtualSizeRange: 1...(1 << 40)) } catch let error as QCOW2Error { validateError = error } catch {
        fatalError("validate threw a non-QCOW2Error: \(error)")
    }
    expect(policy == validateError, "validate (\(String(describing: validateError))) disagrees with parse+checkPolicy (\(String(describing: policy)))")

    if header.backingFileOffset == 0 {
        let encoded = header.encoded()
        do {
            let again = try QCOW2Header.parse(encoded)
            expect(again == header, "parse(encoded()) differs from the parsed header:\n\(header)\n\(again)")
        } catch {
            fatalError("the encoding of a parsed header does not parse: \(error)\n\(header)")
        }
    }
    return 0
}

/// A failed invariant is a crash: libFuzzer records the input.
@inline(__always)
func expect(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fatalError("invariant broken: \(message())") }
}
