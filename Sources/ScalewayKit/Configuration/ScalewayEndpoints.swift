/// Where the REST APIs and Object Storage are reached.
///
/// The defaults are Scaleway's public endpoints. Overrides (config keys
/// `api_url` and `s3_endpoint`) point the plugin at the simulator, a proxy or
/// a test server; an Object Storage override switches to path-style
/// addressing because such endpoints rarely serve bucket subdomains.
public struct ScalewayEndpoints: Sendable, Hashable {
    /// Base URL of the Instance and Block APIs, without a trailing slash.
    public var apiURL: String
    /// Object Storage endpoint override; `nil` uses `https://s3.{region}.scw.cloud`.
    public var s3EndpointOverride: String?

    public static let defaultAPIURL = "https://api.scaleway.com"

    public init(apiURL: String = ScalewayEndpoints.defaultAPIURL, s3Endpoint: String? = nil) {
        self.apiURL = ScalewayEndpoints.trimmed(apiURL)
        self.s3EndpointOverride = s3Endpoint.map(ScalewayEndpoints.trimmed)
    }

    /// The Object Storage endpoint for `region`.
    public func s3Endpoint(for region: Region) -> String {
        s3EndpointOverride ?? region.defaultS3Endpoint
    }

    private static func trimmed(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
