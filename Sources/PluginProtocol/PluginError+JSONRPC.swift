import JSONRPC

extension PluginError {
    /// The JSON-RPC error carrying this failure: code from ``Kind/code``,
    /// the message, and `data` = `{kind, hint?, field?, cause?, path?}`.
    ///
    /// - Parameter path: the file the failure is about (a `write` outcome).
    public func responseError(path: String? = nil) -> ResponseError {
        var data: [(key: String, value: JSONValue)] = [("kind", .string(kind.rawValue))]
        if let hint { data.append(("hint", .string(hint))) }
        if let field { data.append(("field", .string(field))) }
        if let cause { data.append(("cause", .string(cause))) }
        if let path { data.append(("path", .string(path))) }
        return ResponseError(ErrorCode(kind.code), message, data: .object(data))
    }

    /// The error a session answers for a request whose state forbids it.
    static func state(_ message: String, hint: String) -> PluginError {
        PluginError(.state, message, hint: hint)
    }

    /// The answer to a cancelled request.
    static let cancelledRequest = PluginError(.cancelled, "the request was cancelled",
                                              hint: "the host sent $/cancelRequest or the plugin is shutting down")
}

/// Maps any error a connector throws onto the wire.
func responseError(for error: any Error, path: String? = nil) -> ResponseError {
    switch error {
    case let error as PluginError: return error.responseError(path: path)
    case var error as ResponseError:
        if let path, case var .object(members)? = error.data {
            members.append(("path", .string(path)))
            error.data = .object(members)
        } else if let path, error.data == nil {
            error.data = ["path": .string(path)]
        }
        return error
    case is CancellationError: return PluginError.cancelledRequest.responseError(path: path)
    default:
        var data: [(key: String, value: JSONValue)] = [("kind", "internal")]
        if let path { data.append(("path", .string(path))) }
        return ResponseError(.internalError, "internal error: \(error)", data: .object(data))
    }
}
