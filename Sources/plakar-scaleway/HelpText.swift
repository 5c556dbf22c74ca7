/// `plakar-scaleway --help`.
enum HelpText {
    static var text: String {
        """
        plakar-scaleway \(ManifestInfo.version) — Plakar importer/exporter for Scaleway Compute instances

        USAGE
          plakar-scaleway                 serve the protocol on stdin/stdout (how Plakar runs it)
          plakar-scaleway --help          this text
          plakar-scaleway --version       the version and the protocol version
          plakar-scaleway --manifest      the plugin manifest (JSON: connectors, config keys, IAM)

        OPTIONS
          --log-level LEVEL   trace|debug|info|warning|error|off (default: $PLAKAR_SCALEWAY_LOG or info);
                              logs go to stderr, stdout carries protocol messages only
          --eof-grace SECS    after stdin ends, how long received requests may finish (default 30)

        PROTOCOL (version \(ManifestInfo.protocolVersion); full spec: protocol/README.md)
          JSON-RPC 2.0, one JSON object per line on stdin, answers one per line on stdout.
          Methods: open, ping, list, read, write, close. Notifications to the host: progress, log.
          Cancel an in-flight request with {"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":ID}}.
          Binary data is base64 (read: up to 16 MiB per call; write: up to 16 MiB per chunk).
          Max message: 64 MiB per line. Batches are refused. Errors carry data.kind and data.hint.

        A SESSION TO PASTE (the test-only in-memory connector; no Scaleway account needed)
          PLAKAR_SCALEWAY_TEST_CONNECTOR=1 plakar-scaleway <<'EOF'
          {"jsonrpc":"2.0","id":1,"method":"open","params":{"protocol":"memory-test","mode":"importer","config":{"location":"memory-test://","files":"/hello.txt:5"}}}
          {"jsonrpc":"2.0","id":2,"method":"list"}
          {"jsonrpc":"2.0","id":3,"method":"read","params":{"path":"/hello.txt","offset":0,"length":1048576}}
          {"jsonrpc":"2.0","id":4,"method":"close"}
          EOF
        answers (the list also sends progress notifications):
          {"jsonrpc":"2.0","id":1,"result":{"origin":"memory-test","type":"memory-test","root":"/","flags":["stream"]}}
          {"jsonrpc":"2.0","id":2,"result":{"records":[{"pathname":"/hello.txt","fileinfo":{"name":"hello.txt","size":5,...}}]}}
          {"jsonrpc":"2.0","id":3,"result":{"data":"YWJjZGU=","eof":true}}
          {"jsonrpc":"2.0","id":4,"result":{"summary":{"reads":1,"bytes":5}}}

        A BACKUP SESSION ON SCALEWAY (the real connector)
          {"jsonrpc":"2.0","id":1,"method":"open","params":{"protocol":"scaleway-instance","mode":"importer","config":{"location":"scaleway-instance://<instance-uuid>","access_key":"SCW...","secret_key":"...","bucket":"my-backups","zone":"fr-par-1"}}}
          {"jsonrpc":"2.0","id":2,"method":"list"}
          {"jsonrpc":"2.0","id":3,"method":"read","params":{"path":"/instance.json","offset":0,"length":1048576}}
          {"jsonrpc":"2.0","id":4,"method":"close"}

        Configuration keys, their defaults and the IAM permission sets: plakar-scaleway --manifest

        """
    }
}
