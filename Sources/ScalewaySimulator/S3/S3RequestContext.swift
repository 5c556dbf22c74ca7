import Crypto
import Foundation

/// One authenticated S3 request: the verified signature outcome, the
/// addressed bucket/key, and the body's digests once checked.
final class S3RequestContext {
    let request: HTTPRequest
    let auth: SigV4Verifier.Outcome
    let target: S3Service.Target
    private(set) var digests: FileDigest.Result?

    init(request: HTTPRequest, auth: SigV4Verifier.Outcome, target: S3Service.Target) {
        self.request = request
        self.auth = auth
        self.target = target
    }

    /// Hashes the body (one pass, MD5 + SHA-256 when needed) and checks the
    /// signed payload hash and any `x-amz-checksum-sha256` against it.
    @discardableResult
    func checkPayload() throws -> FileDigest.Result {
        if let digests { return digests }
        let claimedSHA256 = request.headers["x-amz-checksum-sha256"]
        var needSHA256 = claimedSHA256 != nil
        if case .sha256 = auth.payload { needSHA256 = true }
        let result: FileDigest.Result
        do {
            if let computed = request.bodyDigests, !needSHA256 || computed.sha256 != nil {
                // Hashed by the server while the body streamed in.
                result = FileDigest.Result(md5: computed.md5, sha256: computed.sha256)
            } else {
                result = try FileDigest.digest(of: request.body, sha256: needSHA256)
            }
        } catch {
            throw S3Error.internalError("The upload could not be read back: \(error)")
        }
        if case let .sha256(expected) = auth.payload, let computed = result.sha256, computed != expected {
            throw S3Error(400, "XAmzContentSHA256Mismatch",
                          "The provided 'x-amz-content-sha256' header does not match what was computed.",
                          details: [("ClientComputedContentSHA256", Hex.encode(expected)),
                                    ("S3ComputedContentSHA256", Hex.encode(computed))])
        }
        if let claimedSHA256, let computed = result.sha256 {
            guard let claimed = Data(base64Encoded: claimedSHA256), claimed.count == 32 else {
                throw S3Error(400, "InvalidRequest", "Value for x-amz-checksum-sha256 header is invalid.")
            }
            guard Array(claimed) == computed else {
                throw S3Error(400, "BadDigest", "The SHA256 you specified did not match the calculated checksum.")
            }
        }
        digests = result
        return result
    }

    /// Checks `Content-MD5` (when sent, or always when `required`) against the body.
    func checkContentMD5(required: Bool) throws {
        let result = try checkPayload()
        guard let header = request.headers["Content-MD5"] else {
            if required {
                let hasChecksum = request.headers.fields.contains { $0.name.lowercased().hasPrefix("x-amz-checksum-") }
                if !hasChecksum {
                    throw S3Error.invalidRequest("Missing required header for this request: Content-MD5")
                }
            }
            return
        }
        guard let claimed = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)), claimed.count == 16 else {
            throw S3Error(400, "InvalidDigest", "The Content-MD5 you specified was invalid.", details: [("Content-MD5", header)])
        }
        guard Array(claimed) == result.md5 else {
            throw S3Error(400, "BadDigest", "The Content-MD5 you specified did not match what we received.",
                          details: [("ExpectedDigest", Hex.encode(claimed)), ("CalculatedDigest", Hex.encode(result.md5))])
        }
    }

    /// The body as a file the store can take: the upload's own file, or a new
    /// one holding in-memory bytes.
    func bodyFile(in store: ObjectStore) throws -> String {
        switch request.body {
        case let .file(path, _):
            return path
        case let .placed(placement, size):
            // Placed bodies are committed in their slot (UploadPart); any
            // other use gets a copy of its own.
            let path = store.temporaryFile()
            let output = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard output >= 0 else { throw S3Error.internalError("cannot create \(path)") }
            defer { close(output) }
            try FileMover.append(placement.path, offset: placement.offset, length: size, to: output)
            return path
        case let .bytes(bytes):
            let path = store.temporaryFile()
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        case .none:
            let path = store.temporaryFile()
            guard FileManager.default.createFile(atPath: path, contents: nil) else {
                throw S3Error.internalError("cannot create \(path)")
            }
            return path
        }
    }

    /// `x-amz-meta-*` and the representation headers S3 stores with an object.
    var storedMetadata: [String: String] {
        var metadata: [String: String] = [:]
        for (name, value) in request.headers {
            let lower = name.lowercased()
            if lower.hasPrefix("x-amz-meta-") || S3RequestContext.storedHeaders.contains(lower) {
                metadata[lower] = value
            }
        }
        return metadata
    }

    static let storedHeaders: Set<String> = [
        "cache-control", "content-disposition", "content-encoding", "content-language", "expires",
    ]
}
