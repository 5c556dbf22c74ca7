import Foundation

/// A region of an existing file where the server writes a request body
/// instead of a fresh upload file (see ``HTTPBodyPlacing``).
///
/// S3 uses it to write each multipart part straight into its slot of the
/// upload's assembly file, so completing the upload is a rename, not a copy
/// of every part. The placement is a reservation: `release` runs once, when
/// the handler commits the bytes or when the request ends (deinit), so an
/// abandoned or refused body frees its region.
///
/// `@unchecked Sendable` invariant: `path`, `offset` and `length` are
/// immutable; `release` is guarded by `released` under `lock`.
public final class HTTPBodyPlacement: @unchecked Sendable {
    /// The file the body goes into: it must exist (the server never creates
    /// or truncates it, and falls back to an upload file if it cannot open it).
    public let path: String
    /// Where the body's first byte goes.
    public let offset: Int64
    /// The body's announced length (`Content-Length`).
    public let length: Int64
    private let lock = NSLock()
    private var released = false
    private let onRelease: @Sendable () -> Void

    public init(path: String, offset: Int64, length: Int64, onRelease: @escaping @Sendable () -> Void) {
        self.path = path
        self.offset = offset
        self.length = length
        self.onRelease = onRelease
    }

    /// Ends the reservation (idempotent).
    public func release() {
        lock.lock()
        let first = !released
        released = true
        lock.unlock()
        if first { onRelease() }
    }

    deinit { release() }
}

/// A handler that may place large request bodies into files of its own.
/// Asked by the server once the request head has arrived, on the polling
/// thread: answer fast, without blocking.
public protocol HTTPBodyPlacing: Sendable {
    /// Where to write the body of this request (whose `body` is still
    /// `.none`), or `nil` for the default upload file. `length` is the
    /// announced `Content-Length`.
    func placement(for head: HTTPRequest, length: Int64) -> HTTPBodyPlacement?
}
