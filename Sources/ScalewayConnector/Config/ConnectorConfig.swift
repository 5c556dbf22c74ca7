import PluginProtocol

/// The validated configuration of a `scaleway-instance` importer or exporter.
///
/// Built from Plakar's flat map of strings by ``parse(_:role:)``. Every key
/// missing or malformed is a ``PluginError`` of kind `config` whose `field`
/// names the key and whose message says what is expected. Unknown keys are
/// an error too (listing the keys this role knows), the same rule as the
/// JSON Schema of the manifest (`additionalProperties: false`): a misspelt
/// option such as `keep_stagin=true` must not be silently ignored.
/// The secret key never appears in a message, not even when malformed.
public struct ConnectorConfig: Sendable {
    /// Which side of Plakar the connector plays.
    public enum Role: String, Sendable { case importer, exporter }

    public static let defaultAPIURL = "https://api.scaleway.com"
    public static let defaultPrefix = "plakar-scaleway/"
    public static let scheme = "scaleway-instance://"

    public var role: Role
    public var accessKey: String
    public var secretKey: SecretKey
    public var bucket: String
    /// The project; `nil` means "the instance's project".
    public var projectID: String?
    /// The zone; `nil` means "search every zone" (see ``Zone/searchOrder``).
    public var zone: Zone?
    /// The instance backed up (importer) or targeted (exporter, optional).
    public var target: InstanceTarget?
    public var environment: String?
    public var dataClass: String?
    public var apiURL: String
    /// The S3 endpoint; `nil` means `https://s3.<region>.scw.cloud`.
    public var s3Endpoint: String?
    public var caFile: String?
    /// Staging prefix inside the bucket, always ending with `/`.
    public var prefix: String
    public var keepStaging: Bool
    /// `reclaim_after`: a run whose lease has not been renewed for this long
    /// is dead, and the next run reclaims what it left (see RunLease).
    public var reclaimAfter: Duration = ConnectorConfig.defaultReclaimAfter
    public static let defaultReclaimAfter: Duration = .seconds(300)
    /// Below this, a live run slowed by a few failed renewals could be taken for dead.
    public static let reclaimAfterRange: ClosedRange<Duration> = .seconds(30) ... .seconds(7 * 24 * 3600)

    // Backup options.
    public var consistency: Consistency

    // Restore options.
    public var name: String?
    public var commercialType: String?
    public var startOnRestore: Bool
    public var restoreMode: RestoreMode
    public var force: Bool
    public var perfIOPS: Int?
    public var keepOnFailure: Bool

    // Timeouts (see ``TimeoutKey``).
    /// `connect_timeout`: establishing a TCP+TLS connection.
    public var connectTimeout: Duration = TimeoutKey.connect.defaultValue
    /// `stall_timeout`: a transfer below 1 KiB/s for this long is aborted (and retried when safe).
    public var stallTimeout: Duration = TimeoutKey.stall.defaultValue
    /// `snapshot_timeout` (backup): the longest wait for a snapshot to complete.
    public var snapshotTimeout: Duration = TimeoutKey.snapshot.defaultValue
    /// `export_timeout` (backup): the longest wait for a snapshot's export to Object Storage.
    public var exportTimeout: Duration = TimeoutKey.export.defaultValue
    /// `import_timeout` (restore): the longest wait for an image's import as a snapshot.
    public var importTimeout: Duration = TimeoutKey.importImage.defaultValue

    /// The keys every role accepts.
    public static let commonKeys: [String] = [
        "location", "access_key", "secret_key", "bucket", "project_id", "zone", "hostname",
        "environment", "data_class", "api_url", "s3_endpoint", "ca_file", "prefix", "keep_staging",
        "reclaim_after",
        "connect_timeout", "stall_timeout",
    ]
    /// Backup-only keys.
    public static let importerKeys: [String] = ["consistency", "snapshot_timeout", "export_timeout"]
    /// Restore-only keys.
    public static let exporterKeys: [String] = [
        "name", "commercial_type", "start_on_restore", "restore_mode", "force", "perf_iops", "keep_on_failure",
        "import_timeout",
    ]

    /// The keys `role` accepts, sorted.
    public static func knownKeys(for role: Role) -> [String] {
        (commonKeys + (role == .importer ? importerKeys : exporterKeys)).sorted()
    }

    /// The S3 region this configuration stages in (the zone's region).
    public var region: String? { zone?.region }

    /// The S3 endpoint for `region`.
    public func s3Endpoint(region: String) -> String {
        (s3Endpoint ?? "https://s3.{region}.scw.cloud").replacingOccurrences(of: "{region}", with: region)
    }

    /// Parses and validates `config` for `role`.
    /// - Throws: ``PluginError`` of kind `config` naming the offending key.
    public static func parse(_ config: [String: String], role: Role) throws -> ConnectorConfig {
        var reader = ConfigReader(config: config)
        let known = Set(knownKeys(for: role))
        for key in config.keys.sorted() where !known.contains(key) {
            let other = role == .importer ? exporterKeys : importerKeys
            let why = other.contains(key)
                ? "\"\(key)\" is a \(role == .importer ? "restore" : "backup") option, not accepted by the \(role)"
                : "unknown configuration key \"\(key)\""
            throw PluginError(.config, why,
                              hint: "known keys: \(knownKeys(for: role).joined(separator: ", "))", field: key)
        }

        let accessKey = try reader.required("access_key", expected: "a Scaleway access key such as SCWXXXXXXXXXXXXXXXXX") {
            isAccessKey($0)
        }
        let secret = try reader.requiredSecret()
        let bucket = try reader.required("bucket", expected: "an Object Storage bucket name (3-63 lowercase letters, digits, dots, hyphens)") {
            ConfigValidation.isBucketName($0)
        }
        let project = try reader.optional("project_id", expected: "a project UUID (8-4-4-4-12 hexadecimal digits)") {
            ConfigValidation.isUUID($0)
        }?.lowercased()
        let zone = try reader.optional("zone", expected: "a zone such as fr-par-1 (one of \(Zone.searchOrder.map(\.name).joined(separator: ", ")))") {
            Zone($0) != nil
        }.flatMap(Zone.init)
        let target = try parseTarget(&reader)
        let environment = try reader.optional("environment", expected: "a label of at most 128 printable characters") {
            ConfigValidation.isLabel($0, maxLength: 128)
        }
        let dataClass = try reader.optional("data_class", expected: "a label of at most 128 printable characters") {
            ConfigValidation.isLabel($0, maxLength: 128)
        }
        let apiURL = try reader.optional("api_url", expected: "an http(s) URL such as https://api.scaleway.com") {
            ConfigValidation.isHTTPURL($0)
        }.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 } ?? defaultAPIURL
        let s3 = try reader.optional("s3_endpoint", expected: "an http(s) URL such as https://s3.fr-par.scw.cloud") {
            ConfigValidation.isHTTPURL($0)
        }.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        let caFile = try reader.optional("ca_file", expected: "the path of a readable PEM file") { path in
            FileCheck.isReadableFile(path)
        }
        let prefix = try reader.optional("prefix", expected: "a key prefix such as plakar-scaleway/ (no leading /, no ..)") {
            isPrefix($0)
        }.map { $0.hasSuffix("/") ? $0 : $0 + "/" } ?? defaultPrefix
        let keepStaging = try reader.bool("keep_staging", default: false)

        var result = ConnectorConfig(
            role: role, accessKey: accessKey, secretKey: secret, bucket: bucket, projectID: project, zone: zone,
            target: target, environment: environment, dataClass: dataClass, apiURL: apiURL, s3Endpoint: s3,
            caFile: caFile, prefix: prefix, keepStaging: keepStaging, consistency: .crash, name: nil,
            commercialType: nil, startOnRestore: false, restoreMode: .new, force: false, perfIOPS: nil,
            keepOnFailure: false)
        result.reclaimAfter = try reader.optional(
            "reclaim_after", expected: "a duration of 30 s to 7 days: seconds (300) or with a unit (300s, 5m, 1h)"
        ) { ConfigValidation.duration($0).map { reclaimAfterRange.contains($0) } ?? false }
            .flatMap(ConfigValidation.duration) ?? defaultReclaimAfter
        result.connectTimeout = try reader.duration(.connect)
        result.stallTimeout = try reader.duration(.stall)

        switch role {
        case .importer:
            result.consistency = try reader.enumeration("consistency", default: .crash)
            result.snapshotTimeout = try reader.duration(.snapshot)
            result.exportTimeout = try reader.duration(.export)
            guard target != nil else {
                throw PluginError(.config, "no instance to back up: location has no instance and hostname is not set",
                                  hint: "set location to scaleway-instance://<instance-uuid-or-name> or hostname=<instance-uuid>",
                                  field: "location")
            }
        case .exporter:
            result.name = try reader.optional("name", expected: "an instance name of at most 255 printable characters") {
                ConfigValidation.isLabel($0, maxLength: 255)
            }
            result.commercialType = try reader.optional("commercial_type", expected: "an instance type such as DEV1-S or PRO2-XXS") {
                isCommercialType($0)
            }
            result.startOnRestore = try reader.bool("start_on_restore", default: false)
            result.restoreMode = try reader.enumeration("restore_mode", default: .new)
            result.force = try reader.bool("force", default: false)
            result.perfIOPS = try reader.optional("perf_iops", expected: "5000 or 15000 (SBS performance class)") {
                $0 == "5000" || $0 == "15000"
            }.flatMap { Int($0) }
            result.keepOnFailure = try reader.bool("keep_on_failure", default: false)
            result.importTimeout = try reader.duration(.importImage)
            if result.restoreMode == .inPlace && target == nil {
                throw PluginError(.config, "restore_mode=in_place needs a target instance",
                                  hint: "set location to scaleway-instance://<instance-uuid-or-name> or hostname=<instance-uuid>",
                                  field: "restore_mode")
            }
            if result.force && result.restoreMode != .inPlace {
                throw PluginError(.config, "force=true only applies to restore_mode=in_place",
                                  hint: "remove force, or set restore_mode=in_place", field: "force")
            }
        }
        return result
    }

    /// The instance named by `location` and `hostname`; they must agree when both are set.
    private static func parseTarget(_ reader: inout ConfigReader) throws -> InstanceTarget? {
        var fromLocation: InstanceTarget?
        if let location = reader.raw("location") {
            guard location.hasPrefix(scheme) else {
                throw PluginError(.config, "location must start with \(scheme)",
                                  hint: "use scaleway-instance://<instance-uuid-or-name>", field: "location")
            }
            let rest = String(location.dropFirst(scheme.count))
            if !rest.isEmpty {
                guard !rest.contains("/"), ConfigValidation.isLabel(rest, maxLength: 255) else {
                    throw PluginError(.config, "location must be scaleway-instance://<instance-uuid-or-name>, with no path",
                                      hint: "for example scaleway-instance://web-01", field: "location")
                }
                fromLocation = InstanceTarget(rest)
            }
        }
        let hostname = try reader.optional("hostname", expected: "the instance UUID (8-4-4-4-12 hexadecimal digits)") {
            ConfigValidation.isUUID($0)
        }.map { InstanceTarget.id($0.lowercased()) }
        if let hostname, let fromLocation, case .id = fromLocation, hostname != fromLocation {
            throw PluginError(.config, "hostname and location name different instances",
                              hint: "remove one of them or make them agree", field: "hostname")
        }
        if let hostname, case .id = hostname { return hostname }
        return fromLocation
    }

    static func isAccessKey(_ text: String) -> Bool {
        // `@<project_id>` selects another project for Object Storage.
        let parts = text.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        let key = parts[0]
        guard key.count == 20, key.hasPrefix("SCW"),
              key.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) || ("0"..."9").contains($0) })
        else { return false }
        return parts.count == 1 || ConfigValidation.isUUID(String(parts[1]))
    }

    static func isPrefix(_ text: String) -> Bool {
        !text.isEmpty && !text.hasPrefix("/") && text.count <= 512
            && !text.split(separator: "/").contains("..") && !text.contains("//")
            && ConfigValidation.isLabel(text, maxLength: 512)
    }

    static func isCommercialType(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 64
            && text.unicodeScalars.allSatisfy { ("A"..."Z").contains($0) || ("a"..."z").contains($0)
                || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" }
    }
}

/// Reads typed values out of the string map, producing precise errors.
private struct ConfigReader {
    let config: [String: String]

    func raw(_ key: String) -> String? {
        guard let value = config[key] else { return nil }
        return value
    }

    func required(_ key: String, expected: String, valid: (String) -> Bool) throws -> String {
        guard let value = config[key], !value.isEmpty else {
            throw PluginError(.config, "missing required key \(key): expected \(expected)", field: key)
        }
        guard valid(value) else {
            throw PluginError(.config, "\(key) is malformed: expected \(expected), got \"\(value)\"", field: key)
        }
        return value
    }

    func requiredSecret() throws -> SecretKey {
        guard let value = config["secret_key"], !value.isEmpty else {
            throw PluginError(.config, "missing required key secret_key: expected the API key's secret (a UUID)",
                              field: "secret_key")
        }
        // Never echo the value: it is (or is meant to be) a secret.
        guard ConfigValidation.isUUID(value) else {
            throw PluginError(.config, "secret_key is malformed: expected a UUID (8-4-4-4-12 hexadecimal digits); the value is not shown",
                              field: "secret_key")
        }
        return SecretKey(value)
    }

    func optional(_ key: String, expected: String, valid: (String) -> Bool) throws -> String? {
        guard let value = config[key], !value.isEmpty else { return nil }
        guard valid(value) else {
            throw PluginError(.config, "\(key) is malformed: expected \(expected), got \"\(value)\"", field: key)
        }
        return value
    }

    func bool(_ key: String, default fallback: Bool) throws -> Bool {
        guard let value = config[key], !value.isEmpty else { return fallback }
        switch value.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default:
            throw PluginError(.config, "\(key) is malformed: expected true or false, got \"\(value)\"", field: key)
        }
    }

    /// A duration key: Go-style (`90s`, `15m`, `12h`, `1h30m`) or bare seconds, within the key's range.
    func duration(_ key: TimeoutKey) throws -> Duration {
        guard let value = config[key.name], !value.isEmpty else { return key.defaultValue }
        let expected = "a duration such as \(key.example) (units s, m, h; a bare number is seconds), "
            + "from \(ConfigValidation.formatDuration(key.range.lowerBound)) to \(ConfigValidation.formatDuration(key.range.upperBound))"
        guard let parsed = ConfigValidation.duration(value) else {
            throw PluginError(.config, "\(key.name) is malformed: expected \(expected), got \"\(value)\"", field: key.name)
        }
        guard key.range.contains(parsed) else {
            throw PluginError(.config, "\(key.name) is out of range: expected \(expected), got \"\(value)\"",
                              hint: key.purpose, field: key.name)
        }
        return parsed
    }

    func enumeration<E: RawRepresentable>(_ key: String, default fallback: E) throws -> E
    where E.RawValue == String, E: CaseIterableNames {
        guard let value = config[key], !value.isEmpty else { return fallback }
        guard let parsed = E(rawValue: value) else {
            throw PluginError(.config, "\(key) is malformed: expected one of \(E.allNames.joined(separator: ", ")), got \"\(value)\"",
                              field: key)
        }
        return parsed
    }
}

/// Enumerations whose accepted spellings are listed in error messages.
protocol CaseIterableNames { static var allNames: [String] { get } }
extension Consistency: CaseIterableNames { static var allNames: [String] { ["crash", "stop"] } }
extension RestoreMode: CaseIterableNames { static var allNames: [String] { ["new", "in_place"] } }
