import PluginProtocol

/// The file `write` is receiving (one at a time, in walk order).
struct IncomingFile: Sendable {
    let path: String
    let kind: RestorePath
    /// Size announced by the host; -1 when unknown.
    let declaredSize: Int64
    var received: Int64 = 0
    /// Description files: the whole content. Images: the bytes gathered
    /// before the header is validated.
    var buffer: [UInt8] = []
    /// The first refusal: later chunks are refused with it, and it is the file's outcome.
    var refusal: PluginError?
    var stream: MultipartStream?
    var facts: ImageHeaderFacts?

    init(path: String, kind: RestorePath, declaredSize: Int64) {
        self.path = path
        self.kind = kind
        self.declaredSize = declaredSize
    }
}

/// An image uploaded to the staging bucket.
struct StagedImage: Sendable {
    var index: Int
    var volumeID: String
    var path: String
    var key: String
    var bytes: Int64
    var virtualSize: UInt64
}

/// What restore knows of a volume to recreate.
struct VolumeDescription: Sendable {
    var family: VolumeFamily
    var name: String
    var tags: [String]
    var perfIOPS: Int?
    var size: Int64?
    /// Where the description came from (for the summary).
    var source: String
}
