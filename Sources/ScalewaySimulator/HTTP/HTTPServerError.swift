import Foundation

/// Why the simulator's HTTP layer could not start or serve.
public struct HTTPServerError: Error, CustomStringConvertible, Sendable {
    public enum Kind: String, Sendable {
        /// libmicrohttpd refused to start (port taken, bad TLS material...).
        case startFailed = "start_failed"
        /// The state directory could not be prepared.
        case stateDirectory = "state_directory"
        /// Generating the TLS certificate authority or certificate failed.
        case certificateGeneration = "certificate_generation"
    }

    public var kind: Kind
    public var message: String
    public var underlying: (any Error)?

    public init(_ kind: Kind, _ message: String, underlying: (any Error)? = nil) {
        self.kind = kind
        self.message = message
        self.underlying = underlying
    }

    public var description: String {
        var text = "\(kind.rawValue): \(message)"
        if let underlying { text += " (cause: \(underlying))" }
        return text
    }
}
