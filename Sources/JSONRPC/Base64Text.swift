/// A base64 string param not decoded yet, so its bytes can be decoded
/// straight into the caller's memory (``decode(into:)``) instead of into an
/// array of their own that is then copied.
///
/// The restore path's `write` data: 1 MiB chunks arrive as 1.4 MB of base64
/// and go into multipart part buffers; decoding in place saves an allocation
/// and a copy per chunk. The text stays in the request's line buffer (shared,
/// not copied) for as long as this value lives.
///
/// Only the length and padding are checked when it is made; the characters
/// are checked as they are decoded, so a refused text throws from
/// ``decode(into:)`` or ``decoded()``.
public struct Base64Text: Sendable {
    /// Why the text was refused: the -32602 answer naming the field.
    public struct Invalid: Error, Sendable {
        public var response: ResponseError
    }

    /// The line (or the string's UTF-8) holding the text, and where.
    private let storage: [UInt8]
    private let range: Range<Int>
    /// The field as named in errors (e.g. `data`).
    public let field: String
    /// The number of bytes the text decodes to.
    public let decodedCount: Int

    /// - Throws: ``Invalid`` when the length is not a multiple of 4.
    init(storage: [UInt8], range: Range<Int>, field: String) throws(Invalid) {
        self.storage = storage
        self.range = range
        self.field = field
        let count: Result<Int, Base64.DecodingError> = storage.withUnsafeBytes { raw in
            do throws(Base64.DecodingError) {
                return .success(try Base64.decodedCount(of: UnsafeRawBufferPointer(rebasing: raw[range])))
            } catch {
                return .failure(error)
            }
        }
        switch count {
        case let .success(count): decodedCount = count
        case let .failure(error): throw Self.invalid(field, error)
        }
    }

    /// Decodes the text into `destination`, which must hold at least
    /// ``decodedCount`` bytes; returns that count. Nothing is written past
    /// it. When the text is refused, the first ``decodedCount`` bytes of
    /// `destination` are unspecified (the caller must not keep them).
    ///
    /// - Throws: ``Invalid`` naming the field and the offending character.
    public func decode(into destination: UnsafeMutableRawBufferPointer) throws(Invalid) -> Int {
        let result: Result<Int, Base64.DecodingError> = storage.withUnsafeBytes { raw in
            do throws(Base64.DecodingError) {
                return .success(try Base64.decode(UnsafeRawBufferPointer(rebasing: raw[range]), into: destination))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case let .success(count): return count
        case let .failure(error): throw Self.invalid(field, error)
        }
    }

    /// The decoded bytes in an array of their own.
    ///
    /// - Throws: ``Invalid`` naming the field and the offending character.
    public func decoded() throws(Invalid) -> [UInt8] {
        // Not with capacity 0 (see `Base64.decode(_:)`); only an empty text
        // decodes to nothing, and it has nothing to check.
        guard decodedCount > 0 else { return [] }
        var failure: Invalid?
        let bytes = [UInt8](unsafeUninitializedCapacity: decodedCount) { buffer, initialized in
            do throws(Invalid) { initialized = try decode(into: UnsafeMutableRawBufferPointer(buffer)) } catch { failure = error }
        }
        if let failure { throw failure }
        return bytes
    }

    private static func invalid(_ field: String, _ error: Base64.DecodingError) -> Invalid {
        Invalid(response: ResponseError.invalidParams(field: field, "must be standard base64 with padding: \(error.message)"))
    }
}
