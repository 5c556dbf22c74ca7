extension QCOW2Header {
    /// Parses and validates the first bytes of an image against the import
    /// policy Scaleway applies (and this module's reader needs).
    ///
    /// Use it on the first chunk of an image as it arrives (for example the
    /// first `write` of a restore) to refuse an unusable image before
    /// transferring the rest. Pass at least the first 64 KiB (or the whole
    /// image when shorter); a shorter prefix fails with `truncated`.
    ///
    /// Reasons, in the order they are checked: `not_qcow2`,
    /// `unsupported_version`, `truncated`, `corrupt` (structure or the
    /// corrupt bit), `encrypted`, `backing_file`, `zstd_compression`,
    /// `unsupported_feature`, `dirty`, `virtual_size`.
    ///
    /// - Parameters:
    ///   - prefix: the first bytes of the image.
    ///   - virtualSizeRange: the accepted virtual sizes, `nil` for any.
    /// - Returns: the parsed header.
    public static func validate(prefix: UnsafeRawBufferPointer,
                                virtualSizeRange: ClosedRange<UInt64>? = nil) throws -> QCOW2Header {
        let header = try parse(prefix)
        try header.checkPolicy(virtualSizeRange: virtualSizeRange)
        return header
    }

    /// Validates the first bytes of an image; see ``validate(prefix:virtualSizeRange:)-(UnsafeRawBufferPointer,_)``.
    public static func validate(prefix: [UInt8], virtualSizeRange: ClosedRange<UInt64>? = nil) throws -> QCOW2Header {
        try prefix.withUnsafeBytes { try validate(prefix: $0, virtualSizeRange: virtualSizeRange) }
    }

    /// Applies the import policy to an already parsed header.
    public func checkPolicy(virtualSizeRange: ClosedRange<UInt64>? = nil) throws {
        try checkReadable()
        if isDirty {
            throw QCOW2Error(.dirty, "the image was not closed cleanly (dirty bit set): its refcounts may be stale; repair it with `qemu-img check -r all` before uploading", offset: 72)
        }
        if let virtualSizeRange, !virtualSizeRange.contains(virtualSize) {
            throw QCOW2Error(.virtualSize, "virtual size \(virtualSize) bytes is outside the accepted \(virtualSizeRange.lowerBound)...\(virtualSizeRange.upperBound) bytes; resize the image with `qemu-img resize`", offset: 24)
        }
    }

    /// The checks without which the content cannot be read correctly.
    /// A dirty image is readable (only its refcounts may be stale).
    func checkReadable() throws {
        if isMarkedCorrupt {
            throw QCOW2Error(.corrupt, "the image is flagged corrupt by QEMU (corrupt bit set); repair it with `qemu-img check -r all` or recreate it", offset: 72)
        }
        if isEncrypted {
            let method = cryptMethod == 1 ? "AES" : cryptMethod == 2 ? "LUKS" : "method \(cryptMethod)"
            throw QCOW2Error(.encrypted, "the image is encrypted (\(method)); decrypt it first with `qemu-img convert --object secret,... --image-opts ... -O qcow2`", offset: 32)
        }
        if hasBackingFile {
            let name = backingFileName.map { " '\($0)'" } ?? ""
            throw QCOW2Error(.backingFile, "the image depends on the backing file\(name); flatten it first with `qemu-img convert -O qcow2` (or `qemu-img rebase -b ''`)", offset: 8)
        }
        let hasTypeBit = incompatibleFeatures.contains(.compressionType)
        if hasTypeBit || compressionTypeRaw != 0 {
            if compressionTypeRaw == CompressionType.zstd.rawValue && hasTypeBit {
                throw QCOW2Error(.zstdCompression, "compressed clusters use zstd, which is not accepted; recompress with `qemu-img convert -O qcow2 -c -o compression_type=zlib` (or without -c)", offset: 104)
            }
            if !hasTypeBit || compressionTypeRaw == 0 {
                throw QCOW2Error.corrupt("compression_type \(compressionTypeRaw) disagrees with the compression type feature bit", offset: 104)
            }
            throw QCOW2Error(.unsupportedFeature, "unknown compression type \(compressionTypeRaw); recompress with `qemu-img convert -O qcow2`", offset: 104)
        }
        if incompatibleFeatures.contains(.externalDataFile) {
            throw QCOW2Error(.unsupportedFeature, "the image keeps its data in an external data file; convert it into a self-contained image with `qemu-img convert -O qcow2`", offset: 72)
        }
        if incompatibleFeatures.contains(.extendedL2) {
            throw QCOW2Error(.unsupportedFeature, "the image uses extended L2 entries (subclusters); convert it with `qemu-img convert -O qcow2 -o extended_l2=off`", offset: 72)
        }
        let unknown = incompatibleFeatures.subtracting(.known)
        if !unknown.isEmpty {
            throw QCOW2Error(.unsupportedFeature, "unknown incompatible feature bits 0x\(String(unknown.rawValue, radix: 16)); convert the image with `qemu-img convert -O qcow2`", offset: 72)
        }
    }
}
