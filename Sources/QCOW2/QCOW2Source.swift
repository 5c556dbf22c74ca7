/// The virtual disk a ``QCOW2Writer`` turns into an image.
///
/// A source is sparse: it names the byte ranges that may hold data
/// (``forEachDataExtent(_:)``); everything outside them reads as zeros and is
/// never read. The writer reads every extent twice (once to find the clusters
/// that are entirely zero, once to copy the others), so the content must not
/// change while an image is written: write from a snapshot.
///
/// Conforming types: ``SparseFileSource`` (a file, holes found with
/// `SEEK_DATA`/`SEEK_HOLE`) and ``MemorySource``.
public protocol QCOW2Source {
    /// Size of the virtual disk in bytes.
    var virtualSize: UInt64 { get }

    /// Calls `body` with every range that may hold non-zero bytes, in
    /// increasing, non-overlapping order. Ranges may extend past
    /// ``virtualSize``; the writer clips them.
    func forEachDataExtent(_ body: (Range<UInt64>) throws -> Void) throws

    /// Fills `buffer` with the bytes at `offset` (`offset + buffer.count <=
    /// virtualSize`). Bytes past the end of the underlying storage read as zeros.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws
}
