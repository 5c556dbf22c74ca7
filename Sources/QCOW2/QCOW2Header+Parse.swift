extension QCOW2Header {
    /// Parses the header and its extensions from the first bytes of an image.
    ///
    /// Checks the structure only (magic, version, lengths, cluster size,
    /// refcount order, extension framing); see
    /// ``validate(prefix:virtualSizeRange:)`` for the import policy.
    ///
    /// - Parameter prefix: the first bytes of the image: at least the header
    ///   and its extensions (the first cluster, or the whole image if shorter).
    /// - Throws: ``QCOW2Error`` with reason `not_qcow2`, `unsupported_version`,
    ///   `truncated`, `corrupt` or `unsupported_feature`.
    public static func parse(_ prefix: UnsafeRawBufferPointer) throws -> QCOW2Header {
        let count = prefix.count
        guard count >= 4 else {
            throw QCOW2Error(.truncated, "only \(count) bytes: a QCOW2 image starts with a header of at least 72 bytes; supply the first 64 KiB of the image", offset: UInt64(count))
        }
        guard prefix.loadBE32(at: 0) == magic else {
            throw QCOW2Error(.notQCOW2, "the data does not start with the QCOW2 magic 'QFI\\xfb'; supply a QCOW2 image (convert raw disks with `qemu-img convert -O qcow2`)", offset: 0)
        }
        guard count >= 8 else {
            throw QCOW2Error.truncated("the QCOW2 header", needed: 8, available: UInt64(count))
        }
        let version = prefix.loadBE32(at: 4)
        guard version == 2 || version == 3 else {
            throw QCOW2Error(.unsupportedVersion, "QCOW2 version \(version) is not supported (only 2 and 3); convert the image with `qemu-img convert -O qcow2 -o compat=1.1`", offset: 4)
        }
        let fixedLength = version == 2 ? version2Length : version3MinimumLength
        guard count >= fixedLength else {
            throw QCOW2Error.truncated("the QCOW2 version \(version) header", needed: UInt64(fixedLength), available: UInt64(count))
        }

        var header = QCOW2Header(virtualSize: prefix.loadBE64(at: 24), clusterBits: prefix.loadBE32(at: 20),
                                 l1Size: prefix.loadBE32(at: 36), l1TableOffset: prefix.loadBE64(at: 40),
                                 refcountTableOffset: prefix.loadBE64(at: 48),
                                 refcountTableClusters: prefix.loadBE32(at: 56))
        header.version = version
        header.backingFileOffset = prefix.loadBE64(at: 8)
        header.backingFileSize = prefix.loadBE32(at: 16)
        header.cryptMethod = prefix.loadBE32(at: 32)
        header.snapshotCount = prefix.loadBE32(at: 60)
        header.snapshotsOffset = prefix.loadBE64(at: 64)
        if version == 2 {
            header.refcountOrder = 4
            header.headerLength = UInt32(version2Length)
        } else {
            header.incompatibleFeatures = IncompatibleFeatures(rawValue: prefix.loadBE64(at: 72))
            header.compatibleFeatures = prefix.loadBE64(at: 80)
            header.autoclearFeatures = prefix.loadBE64(at: 88)
            header.refcountOrder = prefix.loadBE32(at: 96)
            header.headerLength = prefix.loadBE32(at: 100)
            guard header.headerLength >= UInt32(version3MinimumLength), header.headerLength % 8 == 0 else {
                throw QCOW2Error.corrupt("header_length \(header.headerLength) is invalid (version 3 needs a multiple of 8, at least 104)", offset: 100)
            }
        }
        guard clusterBitsRange.contains(header.clusterBits) else {
            throw QCOW2Error(.unsupportedFeature, "cluster_bits \(header.clusterBits) is outside 9...21 (512 B to 2 MiB clusters); convert the image with `qemu-img convert -O qcow2`", offset: 20)
        }
        let clusterSize = header.clusterSize
        guard UInt64(header.headerLength) <= clusterSize else {
            throw QCOW2Error.corrupt("header_length \(header.headerLength) exceeds the cluster size \(clusterSize)", offset: 100)
        }
        guard count >= Int(header.headerLength) else {
            throw QCOW2Error.truncated("the QCOW2 header", needed: UInt64(header.headerLength), available: UInt64(count))
        }
        guard header.refcountOrder <= 6 else {
            throw QCOW2Error.corrupt("refcount_order \(header.refcountOrder) is above 6", offset: 96)
        }
        if header.headerLength > 104 {
            header.compressionTypeRaw = prefix.load(fromByteOffset: 104, as: UInt8.self)
        }

        // Extensions follow the header up to the end marker, within the first
        // cluster and before the backing file name when there is one.
        var limit = Int(clusterSize)
        if header.backingFileOffset != 0, header.backingFileOffset < clusterSize {
            limit = Int(header.backingFileOffset)
        }
        var position = Int(header.headerLength)
        while true {
            guard position + 8 <= limit else {
                if position + 8 > count, count < limit {
                    throw QCOW2Error.truncated("the header extensions", needed: UInt64(position + 8), available: UInt64(count))
                }
                throw QCOW2Error.corrupt("header extensions run past the first cluster without an end marker", offset: UInt64(position))
            }
            guard position + 8 <= count else {
                throw QCOW2Error.truncated("the header extensions", needed: UInt64(position + 8), available: UInt64(count))
            }
            let type = prefix.loadBE32(at: position)
            let length = Int(prefix.loadBE32(at: position + 4))
            if type == 0 { break }
            let dataStart = position + 8
            let padded = (length + 7) & ~7
            guard length <= limit - dataStart, padded <= limit - dataStart else {
                throw QCOW2Error.corrupt("header extension 0x\(String(type, radix: 16)) of \(length) bytes runs past the first cluster", offset: UInt64(position))
            }
            guard dataStart + length <= count else {
                throw QCOW2Error.truncated("header extension 0x\(String(type, radix: 16))", needed: UInt64(dataStart + length), available: UInt64(count))
            }
            header.extensions.append(QCOW2HeaderExtension(type: type, data: Array(prefix[dataStart..<(dataStart + length)])))
            position = dataStart + padded
        }

        if header.backingFileOffset != 0 {
            let start = header.backingFileOffset
            let size = UInt64(header.backingFileSize)
            if size <= 1023, start <= UInt64(count), size <= UInt64(count) - start {
                let bytes = prefix[Int(start)..<Int(start + size)]
                header.backingFileName = String(decoding: bytes, as: UTF8.self)
            }
        }
        return header
    }

    /// Parses the header from the first bytes of an image; see ``parse(_:)-(UnsafeRawBufferPointer)``.
    public static func parse(_ prefix: [UInt8]) throws -> QCOW2Header {
        try prefix.withUnsafeBytes { try parse($0) }
    }
}
