/// Size limits of the protocol's data path (documented in protocol/README.md).
public enum PluginLimits {
    /// The largest `length` a `read` may ask for: 16 MiB.
    public static let maxReadLength = 16 << 20
    /// The largest decoded `data` a `write` chunk may carry: 16 MiB.
    public static let maxWriteChunk = 16 << 20
    /// The largest message line: 64 MiB, comfortably above a 16 MiB chunk
    /// in base64 (22.4 MiB) plus its envelope.
    public static let maxMessageSize = 64 << 20
}
