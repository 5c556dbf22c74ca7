/// A connector for testing the protocol end to end: protocol `memory-test`.
///
/// **Test only.** The plugin serves it only when the environment variable
/// `PLAKAR_SCALEWAY_TEST_CONNECTOR=1` is set. Its behaviour is driven by
/// the config map (all values strings, as Plakar sends them):
///
/// | key | meaning | default |
/// |---|---|---|
/// | `files` | `path:size` pairs, comma-separated, for the importer's tree | `/hello.txt:26` |
/// | `error_path` | a path listed as a per-file error record | none |
/// | `origin` | the origin returned by `open` | `memory-test` |
/// | `open_delay_ms`, `list_delay_ms`, `read_delay_ms`, `write_delay_ms` | cancellable delays | 0 |
/// | `fail_open` | `open` fails with this kind (e.g. `auth`) | none |
/// | `fail_read` | reads of this path fail with `not_found` | none |
/// | `slow_read` | `/path:ms`: reads of this path take that long (cancellable) | none |
/// | `internal_read` | reads of this path fail with a non-plugin error (-32603) | none |
/// | `fail_write` | chunks of this path fail with `io` | none |
/// | `close_marker` | a file appended with one line per `close` call | none |
///
/// File content is the alphabet repeated: byte `i` of every file is
/// `"abcdefghijklmnopqrstuvwxyz"[i % 26]`, so any range can be checked.
/// The exporter keeps nothing but sizes and FNV-1a 64 checksums.
public struct MemoryTestConnectorFactory: ConnectorFactory {
    /// The environment variable that enables this connector.
    public static let environmentSwitch = "PLAKAR_SCALEWAY_TEST_CONNECTOR"

    public init() {}

    public var protocols: [String] { ["memory-test"] }

    public func makeImporter(_ context: ConnectorContext) throws -> any Importer {
        MemoryTestImporter(settings: try MemoryTestSettings(context.config), notifier: context.notifier)
    }

    public func makeExporter(_ context: ConnectorContext) throws -> any Exporter {
        MemoryTestExporter(settings: try MemoryTestSettings(context.config), notifier: context.notifier)
    }
}
