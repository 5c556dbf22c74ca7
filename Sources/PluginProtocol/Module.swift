// Module PluginProtocol: implementation in progress on its feature branch.
