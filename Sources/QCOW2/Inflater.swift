import CZlib

/// Decompresses QCOW2 compressed clusters: raw deflate (no zlib header),
/// 4 KiB window, as QEMU writes them.
enum Inflater {
    /// Inflates `input` into exactly `output.count` bytes.
    ///
    /// Trailing bytes after the end of the deflate stream are ignored (the
    /// descriptor rounds the compressed size up to 512-byte sectors).
    static func inflateCluster(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                               hostOffset: UInt64) throws {
        var stream = z_stream()
        guard czlib_inflate_init2(&stream, -12) == Z_OK else {
            throw QCOW2Error(.io, "zlib could not initialise an inflater (out of memory?)")
        }
        defer { inflateEnd(&stream) }
        stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(input.count)
        stream.next_out = output.baseAddress?.assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(output.count)
        let result = inflate(&stream, Z_FINISH)
        guard (result == Z_STREAM_END || result == Z_BUF_ERROR), stream.avail_out == 0 else {
            throw QCOW2Error.corrupt("compressed cluster does not inflate to a full cluster (zlib status \(result))", offset: hostOffset)
        }
    }
}
