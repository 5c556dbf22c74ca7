extension QCOW2Header {
    /// Where the L1 table lies, checked against the image: large enough for
    /// the virtual size, within ``QCOW2Reader/maximumL1Bytes``, on a cluster
    /// boundary after the header and inside a file of `fileSize` bytes.
    /// Shared by ``QCOW2Reader`` and ``QCOW2StructureCheck`` so both refuse
    /// the same images with the same errors.
    ///
    /// - Returns: the table's offset, entry count and length in bytes (an
    ///   image without an L1 table gives 0 entries and 0 bytes).
    /// - Throws: ``QCOW2Error``: `corrupt` (too small, misplaced),
    ///   `unsupportedFeature` (too large), `truncated` (past the end).
    func checkedL1Table(fileSize: UInt64) throws -> (offset: UInt64, entries: UInt64, bytes: UInt64) {
        let entries = UInt64(l1Size)
        guard entries >= requiredL1Size else {
            throw QCOW2Error.corrupt("l1_size \(entries) is too small for the virtual size \(virtualSize) (needs \(requiredL1Size))", offset: 36)
        }
        let bytes = entries * 8
        guard bytes <= QCOW2Reader.maximumL1Bytes else {
            throw QCOW2Error(.unsupportedFeature, "the L1 table of \(bytes) bytes exceeds the 32 MiB limit; the virtual size is too large", offset: 36)
        }
        let offset = l1TableOffset
        if entries > 0 {
            guard offset & (clusterSize - 1) == 0, offset >= clusterSize else {
                throw QCOW2Error.corrupt("the L1 table offset \(offset) is not a cluster boundary after the header", offset: 40)
            }
            guard offset <= fileSize, bytes <= fileSize - offset else {
                throw QCOW2Error.truncated("the L1 table", needed: offset &+ bytes, available: fileSize)
            }
        }
        return (offset, entries, bytes)
    }
}
