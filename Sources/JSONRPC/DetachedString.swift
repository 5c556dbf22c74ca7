/// A long JSON string left in the input buffer instead of being copied into
/// a Swift `String`.
///
/// The data path (`write` params carrying megabytes of base64) must not pay
/// for a `String` per chunk. When ``JSONParser/Options/detachStringsLongerThan``
/// is set, an escape-free string at least that long is recorded here as a
/// byte range of the input, and its place in the value tree holds the empty
/// string `""`. Consumers ask the request for the range by path and decode it
/// straight from the line buffer.
public struct DetachedString: Sendable, Equatable {
    /// Object keys (and array indexes as decimal strings) from the root to
    /// the string, e.g. `["params", "data"]`.
    public var path: [String]
    /// The string's content bytes (without the quotes) in the parsed input.
    public var range: Range<Int>

    public init(path: [String], range: Range<Int>) {
        self.path = path
        self.range = range
    }
}
