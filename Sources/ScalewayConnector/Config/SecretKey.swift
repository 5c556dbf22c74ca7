/// The Scaleway secret key, kept out of every description.
///
/// `description` and `debugDescription` print `<redacted>`, so the key can
/// never reach a log line, an error message or a manifest by interpolation.
/// Only ``reveal()`` gives the value, for the transport that signs requests.
public struct SecretKey: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    private let value: String

    public init(_ value: String) { self.value = value }

    /// The key itself; call only where a request is authenticated.
    public func reveal() -> String { value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}
