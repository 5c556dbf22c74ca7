import PluginProtocol
import QCOW2

/// The production ``ImageHeaderCheck``: QCOW2 header validation with the
/// policy Scaleway's imports apply (magic, version 2/3, no encryption, no
/// backing file, no zstd, not corrupt or dirty), so a bad image is refused
/// on its first bytes instead of after a long upload and import; the rest of
/// the image is then followed by ``QCOW2StreamInspector`` (through
/// ``StreamingExtentCheck``).
public enum QCOW2HeaderCheck {
    public static let check: ImageHeaderCheck = { prefix, path in
        do {
            let header = try QCOW2Header.validate(prefix: prefix)
            let l1End = header.l1TableOffset + UInt64(header.l1Size) * 8
            let refcountEnd = header.refcountTableOffset + UInt64(header.refcountTableClusters) * header.clusterSize
            var facts = ImageHeaderFacts(virtualSize: header.virtualSize, minimumLength: max(l1End, refcountEnd))
            facts.extentCheck = StreamingExtentCheck()
            return facts
        } catch let error as QCOW2Error {
            throw PluginError(.invalidInput, "\(path) is not a usable QCOW2 image (\(error.reason.rawValue)): \(error.message)",
                              hint: "the upload was refused before anything was created", cause: error.description)
        }
    }
}
