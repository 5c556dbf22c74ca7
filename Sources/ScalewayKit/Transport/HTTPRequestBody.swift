import Foundation

/// Produces the bytes of a request body, piece by piece, on the transfer thread.
///
/// The transport calls ``read(into:)`` from libcurl's read callback until the
/// declared length has been produced; a body is never required to be in
/// memory as a whole. A reader is created fresh for every attempt, so a retry
/// restarts from the first byte.
public protocol HTTPBodyReader {
    /// Copies up to `buffer.count` bytes into `buffer` and returns how many
    /// were written; 0 means the end of the body.
    mutating func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int
}

/// The body of an ``HTTPRequest``: nothing, bytes already in memory, or a
/// stream of a declared length (S3 refuses chunked uploads, so the length is
/// always known up front and sent as `Content-Length`).
public struct HTTPRequestBody: Sendable {
    enum Storage: Sendable {
        case empty
        case bytes(ArraySlice<UInt8>)
        case stream(length: Int64, makeReader: @Sendable () throws -> any HTTPBodyReader)
    }

    let storage: Storage

    /// No body.
    public static let empty = HTTPRequestBody(storage: .empty)

    /// A body held in memory (JSON, XML, or one multipart part).
    public static func bytes(_ bytes: [UInt8]) -> HTTPRequestBody { HTTPRequestBody(storage: .bytes(bytes[...])) }

    /// A slice of a larger buffer, sent without copying.
    public static func bytes(_ slice: ArraySlice<UInt8>) -> HTTPRequestBody { HTTPRequestBody(storage: .bytes(slice)) }

    /// A streamed body of exactly `length` bytes. `makeReader` is called once
    /// per attempt, on the transfer thread.
    public static func stream(length: Int64, makeReader: @escaping @Sendable () throws -> any HTTPBodyReader) -> HTTPRequestBody {
        HTTPRequestBody(storage: .stream(length: length, makeReader: makeReader))
    }

    /// `length` bytes of the file at `path` starting at `offset`, read with
    /// `pread` as the transfer progresses.
    public static func file(path: String, offset: Int64 = 0, length: Int64) -> HTTPRequestBody {
        .stream(length: length) { try FileRangeBodyReader(path: path, offset: offset, length: length) }
    }

    /// The number of bytes the body holds (sent as `Content-Length`).
    public var length: Int64 {
        switch storage {
        case .empty: 0
        case .bytes(let slice): Int64(slice.count)
        case .stream(let length, _): length
        }
    }

    public var isEmpty: Bool { if case .empty = storage { true } else { false } }
}

/// Reads a byte range of a file with `pread`, so several readers can share
/// one file at different offsets.
final class FileRangeBodyReader: HTTPBodyReader {
    private let descriptor: Int32
    private var offset: Int64
    private var remaining: Int64

    init(path: String, offset: Int64, length: Int64) throws {
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw TransportError(kind: .requestBody, message: "cannot open \(path) for upload: \(String(cString: strerror(errno)))")
        }
        self.offset = offset
        remaining = length
    }

    deinit { close(descriptor) }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let wanted = Int(min(Int64(buffer.count), remaining))
        guard wanted > 0 else { return 0 }
        while true {
            let n = pread(descriptor, buffer.baseAddress!, wanted, off_t(offset))
            if n < 0 {
                if errno == EINTR { continue }
                throw TransportError(kind: .requestBody, message: "reading the upload source failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw TransportError(kind: .requestBody, message: "the upload source ended \(remaining) bytes early")
            }
            offset += Int64(n)
            remaining -= Int64(n)
            return n
        }
    }
}
