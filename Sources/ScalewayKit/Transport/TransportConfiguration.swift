/// Tunables of the libcurl ``Transport``.
public struct TransportConfiguration: Sendable {
    /// Maximum time to establish the TCP and TLS connection.
    public var connectTimeout: Duration
    /// A transfer slower than ``lowSpeedLimit`` bytes/s for ``lowSpeedTime``
    /// is aborted as timed out (this is how a stalled connection is detected
    /// without capping the duration of a large transfer).
    public var lowSpeedLimit: Int
    public var lowSpeedTime: Duration
    /// TLS trust settings.
    public var tls: TLSConfiguration
    /// Sent as `User-Agent`.
    public var userAgent: String
    /// Idle easy handles kept per host for connection reuse.
    public var maxIdleHandlesPerHost: Int
    /// Largest body collected in memory when not streamed (JSON, XML, errors).
    public var maxCollectedBodyBytes: Int

    public init(connectTimeout: Duration = .seconds(10),
                lowSpeedLimit: Int = 1024,
                lowSpeedTime: Duration = .seconds(60),
                tls: TLSConfiguration = TLSConfiguration(),
                userAgent: String = "plakar-scaleway/1.0",
                maxIdleHandlesPerHost: Int = 16,
                maxCollectedBodyBytes: Int = 64 << 20) {
        self.connectTimeout = connectTimeout
        self.lowSpeedLimit = lowSpeedLimit
        self.lowSpeedTime = lowSpeedTime
        self.tls = tls
        self.userAgent = userAgent
        self.maxIdleHandlesPerHost = maxIdleHandlesPerHost
        self.maxCollectedBodyBytes = maxCollectedBodyBytes
    }
}

/// Which certificates the transport trusts.
///
/// Peer and host name verification are always on. The system CA store is
/// always trusted; ``extraCAFile`` adds a PEM bundle on top of it (for a
/// TLS-terminating proxy or the simulator's CA). Verification can only be
/// skipped for loopback endpoints, and only when ``allowUnverifiedLoopback``
/// is set: a request to any other host with that flag still verifies.
public struct TLSConfiguration: Sendable, Hashable {
    /// A PEM file of additional trusted CA certificates (config key `ca_file`).
    public var extraCAFile: String?
    /// Skip verification for 127.0.0.0/8, ::1 and localhost only.
    public var allowUnverifiedLoopback: Bool

    public init(extraCAFile: String? = nil, allowUnverifiedLoopback: Bool = false) {
        self.extraCAFile = extraCAFile
        self.allowUnverifiedLoopback = allowUnverifiedLoopback
    }
}
