import Logging
import PluginProtocol
import ScalewayKit

/// The production ``CloudSession``: ScalewayKit over libcurl.
///
/// One `ScalewaySession` (one transport, one handle pool) serves every
/// client; Object Storage clients are made per region on first use.
/// ScalewayKit's errors are classified into ``CloudError``.
public struct ScalewayKitCloud: CloudSession {
    let session: ScalewaySession
    let endpointTemplate: String?

    /// - Throws: ``PluginError`` `config` when the transport cannot be set up (e.g. an unusable ca_file).
    public init(config: ConnectorConfig) throws {
        let credentials = ScalewayCredentials(accessKey: config.accessKey, secretKey: config.secretKey.reveal())
        // `s3_endpoint` may name the region as `{region}` (filled per store).
        endpointTemplate = config.s3Endpoint.flatMap { $0.contains("{region}") ? $0 : nil }
        let endpoints = ScalewayEndpoints(apiURL: config.apiURL, s3Endpoint: endpointTemplate == nil ? config.s3Endpoint : nil)
        var transport = TransportConfiguration()
        transport.tls = TLSConfiguration(extraCAFile: config.caFile)
        transport.connectTimeout = config.connectTimeout
        transport.lowSpeedTime = config.stallTimeout
        // ScalewayKit's own waiters get the same limits as the connector's Poller.
        var apiOptions = APIClientOptions()
        apiOptions.wait.timeout = config.snapshotTimeout
        apiOptions.transferWait.timeout = config.role == .importer ? config.exportTimeout : config.importTimeout
        do {
            session = try ScalewaySession(credentials: credentials, endpoints: endpoints, transport: transport, apiOptions: apiOptions)
        } catch {
            throw PluginErrorFactory.config("cannot set up the HTTP transport: \(error)", field: config.caFile == nil ? "api_url" : "ca_file")
        }
    }

    public var compute: any ComputeAPI { ScalewayKitCompute(session: session) }

    public func objectStore(region: String) -> any ObjectStore {
        ScalewayKitObjectStore(session: session, region: region, endpointTemplate: endpointTemplate)
    }
}

/// Classifies ScalewayKit's errors.
enum ScalewayKitErrors {
    static func map(_ error: any Error) -> any Error {
        switch error {
        case let api as ScalewayAPIError:
            let category: CloudError.Category
            switch api.kind {
            case .deniedAuthentication: category = .authentication
            case .permissionsDenied: category = .permission
            case .quotasExceeded: category = .quota
            case .invalidRequest where api.httpStatus == 403: category = .quota
            case .notFound, .unknownResource: category = .notFound
            case .transientState, .preconditionFailed, .locked, .conflict: category = .conflict
            case .invalidArguments, .invalidRequest: category = .invalidRequest
            case .rateLimited: category = .rateLimited
            case .serverError, .outOfStock: category = .server
            case .other:
                switch api.httpStatus {
                case 401: category = .authentication
                case 403: category = .permission
                case 404: category = .notFound
                case 409, 412, 423: category = .conflict
                case 429: category = .rateLimited
                case 500...: category = .server
                default: category = .invalidRequest
                }
            }
            return CloudError(category, status: api.httpStatus, message: api.description,
                              reason: api.reason ?? api.precondition, resource: api.resource, requestID: api.requestID)
        case let s3 as S3Error where s3.isClockSkew:
            return CloudError(.clockSkew, status: s3.httpStatus, message: s3.clockSkewSummary, reason: s3.code,
                              resource: s3.key ?? s3.bucket, requestID: s3.requestID)
        case let s3 as S3Error:
            let category: CloudError.Category
            switch s3.code {
            case "SignatureDoesNotMatch", "InvalidAccessKeyId": category = .authentication
            case "AccessDenied", "AllAccessDisabled": category = .permission
            case "QuotaExceeded": category = .quota
            default:
                if s3.isNotFound { category = .notFound }
                else if s3.httpStatus == 429 || s3.code == "SlowDown" { category = .rateLimited }
                else if s3.isTransient { category = .server }
                else if s3.httpStatus == 403 { category = .permission }
                else if s3.httpStatus == 409 || s3.httpStatus == 412 { category = .conflict }
                else { category = .invalidRequest }
            }
            return CloudError(category, status: s3.httpStatus, message: s3.description, reason: s3.code,
                              resource: s3.key ?? s3.bucket, requestID: s3.requestID)
        case let transport as TransportError:
            if transport.kind == .cancelled { return CancellationError() }
            return CloudError(.transport, message: transport.description, reason: transport.kind.rawValue)
        case let integrity as ObjectStorageIntegrityError:
            return CloudError(.transport, message: integrity.description)
        default:
            return error
        }
    }

    static func call<T>(isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch { throw map(error) }
    }
}

extension PluginErrorFactory {
    static func config(_ message: String, field: String) -> PluginError {
        PluginError(.config, message, field: field)
    }
}
