import PluginProtocol

/// Short constructors for the errors the connector raises most.
enum PluginErrorFactory {
    static func unsupported(_ message: String, hint: String? = nil) -> PluginError {
        PluginError(.unsupported, message, hint: hint)
    }

    static func invalidInput(_ message: String, hint: String? = nil, field: String? = nil) -> PluginError {
        PluginError(.invalidInput, message, hint: hint, field: field)
    }
}
