import Foundation
import Logging

/// How a call may be repeated after a failure.
enum RetryMode: Sendable {
    /// Reads, deletes, PATCH of a complete map: repeating has the same effect.
    case idempotent
    /// Creates, exports, actions: repeated only when the failure proves the
    /// request was not processed (429, connection refused, transient_state).
    case onlyIfNotProcessed
}

/// The JSON-over-HTTPS core of the Instance and Block clients: URL building,
/// `X-Auth-Token`, JSON coding, error decoding, retries and transient-state waits.
final class APIRequester: Sendable {
    let transport: Transport
    let baseURL: String
    let credentials: ScalewayCredentials
    let options: APIClientOptions
    static let logger = Logger(label: "api")

    init(transport: Transport, baseURL: String, credentials: ScalewayCredentials, options: APIClientOptions) {
        self.transport = transport
        self.baseURL = baseURL
        self.credentials = credentials
        self.options = options
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    /// Sends a call and decodes its JSON answer.
    func call<Response: Decodable & Sendable>(
        _ method: HTTPMethod, _ path: String, query: [(String, String)] = [],
        body: (any Encodable & Sendable)? = nil, retry mode: RetryMode, as type: Response.Type
    ) async throws -> (Response, HTTPResponseHead) {
        let response = try await send(method, path, query: query, body: body, retry: mode)
        do {
            return (try JSONDecoder().decode(Response.self, from: Data(response.body)), response.head)
        } catch {
            throw ScalewayAPIError(kind: .other("malformed_response"),
                                   message: "cannot decode the answer as \(Response.self): \(error)",
                                   requestID: response.head.requestID, httpStatus: response.status,
                                   operation: "\(method.rawValue) \(path)")
        }
    }

    /// Sends a call whose answer has no useful body (DELETE -> 204).
    func callWithoutResult(_ method: HTTPMethod, _ path: String, body: (any Encodable & Sendable)? = nil,
                           retry mode: RetryMode) async throws {
        _ = try await send(method, path, query: [], body: body, retry: mode)
    }

    /// The retry loop: a 2xx response, or the last error.
    func send(_ method: HTTPMethod, _ path: String, query: [(String, String)], body: (any Encodable & Sendable)?,
              retry mode: RetryMode) async throws -> HTTPResponse {
        var headers = HTTPHeaders()
        headers.add("X-Auth-Token", credentials.secretKey)
        var requestBody = HTTPRequestBody.empty
        if let body {
            headers.add("Content-Type", "application/json")
            requestBody = .bytes(Array(try APIRequester.encoder.encode(body)))
        }
        let url = baseURL + path + APIRequester.queryString(query)
        let request = HTTPRequest(method: method, url: url, headers: headers, body: requestBody)
        let operation = "\(method.rawValue) \(path)"

        var attempt = 1
        let transientStarted = options.clock.now()
        var transientPolls = 0
        var propagationRetry = 1
        while true {
            try Task.checkCancellation()
            let failure: any Error
            do {
                let response = try await transport.send(request)
                if response.head.isSuccess { return response }
                failure = ScalewayAPIError.decode(status: response.status, body: response.body,
                                                  requestID: response.head.requestID, operation: operation)
            } catch let error as TransportError where error.kind != .cancelled {
                failure = error
            }
            // A fresh key refused: IAM may not have propagated it yet (the call was not applied).
            if options.freshCredentials, let apiError = failure as? ScalewayAPIError, APIRequester.mayBePropagation(apiError),
               let delay = options.retry.propagation.nextDelay(retry: propagationRetry, elapsed: options.clock.now() - transientStarted) {
                APIRequester.logger.info("\(operation): \(APIRequester.brief(apiError)) with a fresh API key; IAM may still be "
                    + "propagating it, retry in \(delay) (propagation retry \(propagationRetry))")
                try await options.clock.sleep(for: delay)
                propagationRetry += 1
                continue
            }
            // transient_state: the resource is busy, the call was not applied; wait it out.
            if let apiError = failure as? ScalewayAPIError, apiError.kind == .transientState {
                transientPolls += 1
                let delay = options.transientStateWait.delay(beforePoll: transientPolls)
                if options.clock.now() - transientStarted + delay <= options.transientStateWait.timeout {
                    APIRequester.logger.debug("\(operation): \(apiError.resource ?? "resource") busy (\(apiError.currentState ?? "?")), waiting \(delay)")
                    try await options.clock.sleep(for: delay)
                    continue
                }
                throw failure
            }
            guard attempt < options.retry.maxAttempts, APIRequester.isRetryable(failure, mode: mode) else { throw failure }
            let delay = options.retry.delay(beforeRetry: attempt)
            APIRequester.logger.warning("\(operation) failed (\(APIRequester.brief(failure))); retry \(attempt)/\(options.retry.maxAttempts - 1) in \(delay)")
            try await options.clock.sleep(for: delay)
            attempt += 1
        }
    }

    /// The retry classification of the API clients.
    static func isRetryable(_ error: any Error, mode: RetryMode) -> Bool {
        switch error {
        case let api as ScalewayAPIError:
            if api.isRateLimited { return true }
            return mode == .idempotent && api.isServerError
        case let transport as TransportError:
            guard transport.isTransient else { return false }
            return mode == .idempotent || !transport.requestMayHaveBeenSent
        default:
            return false
        }
    }

    /// Refusals that IAM propagation of a fresh key explains: unknown key
    /// or missing permission, never an expired key.
    static func mayBePropagation(_ error: ScalewayAPIError) -> Bool {
        switch error.kind {
        case .deniedAuthentication: error.reason != "expired"
        case .permissionsDenied: true
        default: false
        }
    }

    /// Whether a failure leaves it unknown if a non-idempotent call took effect.
    static func isAmbiguous(_ error: any Error) -> Bool {
        switch error {
        case let api as ScalewayAPIError: api.isServerError
        case let transport as TransportError: transport.isTransient && transport.requestMayHaveBeenSent
        default: false
        }
    }

    static func brief(_ error: any Error) -> String {
        switch error {
        case let api as ScalewayAPIError: "HTTP \(api.httpStatus) \(api.kind)"
        case let transport as TransportError: transport.message
        default: "\(error)"
        }
    }

    static func queryString(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        return "?" + query.map { "\(SigV4Encoding.uriEncode($0.0))=\(SigV4Encoding.uriEncode($0.1))" }.joined(separator: "&")
    }

    /// Fetches every page of a list.
    ///
    /// - Parameters:
    ///   - pageSizeName: `per_page` (Instance) or `page_size` (Block).
    ///   - extract: the items and, when the API tells it, the total count.
    func listAll<Page: Decodable & Sendable, Item: Sendable>(
        _ path: String, query: [(String, String)], pageSizeName: String, pageSize: Int = 100,
        as: Page.Type, extract: (Page, HTTPResponseHead) -> (items: [Item], total: Int?)
    ) async throws -> [Item] {
        var all: [Item] = []
        var page = 1
        while true {
            let pageQuery = query + [("page", String(page)), (pageSizeName, String(pageSize))]
            let (decoded, head) = try await call(.get, path, query: pageQuery, retry: .idempotent, as: Page.self)
            let (items, total) = extract(decoded, head)
            all.append(contentsOf: items)
            if items.count < pageSize { break }
            if let total, all.count >= total { break }
            page += 1
        }
        return all
    }
}
