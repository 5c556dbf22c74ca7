/// Why a byte sequence is not an acceptable JSON document.
///
/// Carries the byte offset where parsing stopped and, when the document was
/// a JSON-RPC message whose top-level `id` had already been read before the
/// error, that id (see ``JSONParser/Result/recoveredID``), so the engine can
/// answer the request instead of leaving the host waiting.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, in words that say what to change.
    public var message: String
    /// Byte offset in the input where the problem was detected.
    public var offset: Int
    /// The top-level `id` member (string or number) when it was complete
    /// before the error, else `nil`.
    public var recoveredID: JSONValue?

    public init(_ message: String, offset: Int, recoveredID: JSONValue? = nil) {
        self.message = message
        self.offset = offset
        self.recoveredID = recoveredID
    }

    public var description: String { "\(message) (at byte \(offset))" }
}
