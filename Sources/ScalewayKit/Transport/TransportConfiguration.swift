/// Tunables of the libcurl ``Transport``.
public struct TransportConfiguration: Sendable {
    /// Maximum time to establish the TCP and TLS connection (config key
    /// `connect_timeout`; 30 s by default, Go's dial timeout used by
    /// Scaleway's SDK and CLI).
    public var connectTimeout: Duration
    /// A transfer slower than ``lowSpeedLimit`` bytes/s for ``lowSpeedTime``
    /// is aborted as timed out (this is how a stalled connection is detected
    /// without capping the duration of a large transfer). The wait for the
    /// response head counts too. The failure is a ``TransportError`` of kind
    /// `.timedOut`, retried for idempotent calls.
    public var lowSpeedLimit: Int
    /// Config key `stall_timeout`; 60 s by default (the AWS CLI's read
    /// timeout). libcurl counts it in whole seconds (at least 1).
    public var lowSpeedTime: Duration
    /// TLS trust settings.
    public var tls: TLSConfiguration
    /// Sent as `User-Agent`.
    public var userAgent: String
    /// Idle easy handles kept per host for connection reuse.
    public var maxIdleHandlesPerHost: Int
    /// Largest body collected in memory when not streamed (JSON, XML, errors).
    public var maxCollectedBodyBytes: Int

    public init(connectTimeout: Duration = .seconds(30),
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
/// is set: with that flag, an HTTPS request to any other host is refused
/// before connecting (``TransportError`` of kind `.configuration` saying
/// that verification cannot be switched off for that host).
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
