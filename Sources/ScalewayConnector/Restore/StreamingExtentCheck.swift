import PluginProtocol
import QCOW2

/// Follows a QCOW2 image as it streams into a restore (no seeking, no temp
/// file) with the QCOW2 module's ``QCOW2StreamInspector``, so an image cut
/// short or with damaged tables is refused at its end, before the upload is
/// completed and imported.
///
/// The inspector decodes the L1, refcount and L2 tables as they pass and
/// knows the least length they require. A damaged table does not stop the
/// upload mid-file: its error is kept and reported by ``verdict(path:)``.
/// Memory: one cluster plus a few bytes per L2 table.
struct StreamingExtentCheck {
    private var inspector: QCOW2StreamInspector
    private var failure: QCOW2Error?
    private var inspection: QCOW2StreamInspection?

    init() {
        inspector = QCOW2StreamInspector()
    }

    /// Feeds the bytes found at `offset` of the image; the image must be fed
    /// in order, from its first byte.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) {
        guard failure == nil else { return }
        guard offset == inspector.bytesConsumed else {
            failure = QCOW2Error(.invalidArgument, "bytes at \(offset) arrived while \(inspector.bytesConsumed) were expected")
            return
        }
        do {
            try inspector.consume(bytes)
        } catch let error as QCOW2Error {
            failure = error
        } catch {
            failure = QCOW2Error(.corrupt, "\(error)")
        }
    }

    /// Ends the stream: throws a ``PluginError`` of kind `invalid_input`
    /// naming what is wrong (truncated, corrupt tables...) unless the image
    /// is whole.
    mutating func verdict(path: String) throws {
        if failure == nil, inspection == nil {
            do {
                inspection = try inspector.finish()
            } catch let error as QCOW2Error {
                failure = error
            }
        }
        guard let failure else { return }
        let hint = failure.reason == .truncated
            ? "the image is incomplete (interrupted copy?); nothing was created"
            : "the image is damaged; nothing was created: check it with `qemu-img check` and restore from another snapshot"
        throw PluginError(.invalidInput, "\(path) is not a usable QCOW2 image (\(failure.reason.rawValue)): \(failure.message)",
                          hint: hint, cause: failure.description)
    }
}
