// Module JSONRPC: implementation in progress on its feature branch.
