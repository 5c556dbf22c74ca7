import Foundation

/// How an ``HTTPServer`` listens and behaves.
public struct HTTPServerConfiguration: Sendable {
    /// The service name faults are matched against: `api` or `s3`.
    public var service: String
    /// TCP port on 127.0.0.1; 0 picks an ephemeral port (read it back from
    /// ``HTTPServer/port``).
    public var port: UInt16
    /// libmicrohttpd polling threads (each runs its own epoll loop).
    public var pollingThreads: Int
    /// Dedicated threads running handlers.
    public var handlerThreads: Int
    /// Where uploads larger than ``inMemoryBodyLimit`` are streamed.
    public var uploadDirectory: String
    /// Bodies up to this many bytes stay in memory.
    public var inMemoryBodyLimit: Int
    /// Serve HTTPS with this certificate (GnuTLS); `nil` serves plain HTTP.
    public var tls: TLSMaterial?
    /// Idle keep-alive connections are closed after this many seconds.
    public var connectionTimeout: Int
    /// Per-connection buffer of libmicrohttpd (bigger = larger upload chunks).
    public var connectionMemoryLimit: Int
    /// Let libmicrohttpd print its own diagnostics to stderr.
    public var libraryErrorLog: Bool

    public init(service: String, port: UInt16 = 0, uploadDirectory: String, tls: TLSMaterial? = nil,
                pollingThreads: Int = 2, handlerThreads: Int = 16, inMemoryBodyLimit: Int = 1 << 20,
                connectionTimeout: Int = 300, connectionMemoryLimit: Int = 1 << 20,
                libraryErrorLog: Bool = false) {
        self.service = service
        self.port = port
        self.pollingThreads = pollingThreads
        self.handlerThreads = handlerThreads
        self.uploadDirectory = uploadDirectory
        self.inMemoryBodyLimit = inMemoryBodyLimit
        self.tls = tls
        self.connectionTimeout = connectionTimeout
        self.connectionMemoryLimit = connectionMemoryLimit
        self.libraryErrorLog = libraryErrorLog
    }
}
