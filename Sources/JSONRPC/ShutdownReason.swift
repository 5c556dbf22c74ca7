/// Why a connection stopped serving.
public enum ShutdownReason: Sendable, Equatable, CustomStringConvertible {
    /// stdin reached end of file: the host will send nothing more.
    case endOfInput
    /// A termination signal (SIGTERM, SIGINT).
    case signal(Int32)
    /// stdout is gone (EPIPE): nobody reads our answers any more.
    case outputClosed
    /// Reading stdin failed with this errno.
    case inputFailed(Int32)

    public var description: String {
        switch self {
        case .endOfInput: "end of input"
        case let .signal(n): n == 15 ? "SIGTERM" : n == 2 ? "SIGINT" : "signal \(n)"
        case .outputClosed: "output closed"
        case let .inputFailed(e): "input failed (errno \(e))"
        }
    }
}
