import Foundation

/// One scripted fault, installed from the seed or `POST /_sim/faults`.
///
/// A rule matches requests by service, method and path (a substring or
/// prefix match on the decoded path), then fires on the matching requests
/// `skip`..`skip+count-1` (0-based), or, with `probability`, on a
/// reproducible pseudo-random subset drawn from `seed`.
public struct FaultRule: Sendable, Codable, Equatable {
    public enum Action: String, Sendable, Codable {
        /// 429 with an empty body and `X-Envoy-Ratelimited: true` (API) or
        /// S3's `SlowDown` 503 XML (Object Storage).
        case rateLimit = "rate_limit"
        /// Answer `status` (500 or 503) with the service's error body.
        case status
        /// Send headers and `afterBytes` bytes of the body, then reset.
        case reset
        /// Stall `seconds` before answering (or mid-body after `afterBytes`).
        case stall
        /// The async operation (snapshot, export, import) ends in `error`.
        case asyncError = "async_error"
        /// The object written by an export is corrupted (bytes flipped).
        case corrupt
    }

    public var id: String?
    /// `api`, `s3`, or `any`.
    public var service: String
    public var method: String?
    /// Substring of the decoded path, e.g. `/snapshots` or `.qcow2`.
    public var pathContains: String?
    public var action: Action
    public var status: Int?
    public var afterBytes: Int64?
    public var seconds: Double?
    public var skip: Int
    public var count: Int?
    public var probability: Double?
    public var seed: UInt64?

    public init(id: String? = nil, service: String = "any", method: String? = nil, pathContains: String? = nil,
                action: Action, status: Int? = nil, afterBytes: Int64? = nil, seconds: Double? = nil,
                skip: Int = 0, count: Int? = 1, probability: Double? = nil, seed: UInt64? = nil) {
        self.id = id
        self.service = service
        self.method = method
        self.pathContains = pathContains
        self.action = action
        self.status = status
        self.afterBytes = afterBytes
        self.seconds = seconds
        self.skip = skip
        self.count = count
        self.probability = probability
        self.seed = seed
    }

    private enum CodingKeys: String, CodingKey {
        case id, service, method, pathContains, action, status, afterBytes, seconds, skip, count, probability, seed
    }

    /// Seed files and `POST /_sim/faults` write `snake_case` like every
    /// other simulator document; the camelCase names are accepted too.
    private enum SnakeKeys: String, CodingKey {
        case pathContains = "path_contains", afterBytes = "after_bytes"
    }

    /// Decodes a rule; omitted fields take the memberwise defaults
    /// (`service` any, `skip` 0, `count` 1); an explicit `"count": null`
    /// fires on every matching request.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let snake = try decoder.container(keyedBy: SnakeKeys.self)
        id = try c.decodeIfPresent(String.self, forKey: .id)
        service = try c.decodeIfPresent(String.self, forKey: .service) ?? "any"
        method = try c.decodeIfPresent(String.self, forKey: .method)
        pathContains = try c.decodeIfPresent(String.self, forKey: .pathContains)
            ?? snake.decodeIfPresent(String.self, forKey: .pathContains)
        action = try c.decode(Action.self, forKey: .action)
        status = try c.decodeIfPresent(Int.self, forKey: .status)
        afterBytes = try c.decodeIfPresent(Int64.self, forKey: .afterBytes)
            ?? snake.decodeIfPresent(Int64.self, forKey: .afterBytes)
        seconds = try c.decodeIfPresent(Double.self, forKey: .seconds)
        skip = try c.decodeIfPresent(Int.self, forKey: .skip) ?? 0
        if c.contains(.count) {
            count = try c.decodeNil(forKey: .count) ? nil : c.decode(Int.self, forKey: .count)
        } else {
            count = 1
        }
        probability = try c.decodeIfPresent(Double.self, forKey: .probability)
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed)
    }
}
