import Foundation

/// How bucket names go into URLs.
public enum S3AddressingStyle: Sendable, Hashable {
    /// Virtual-host style (`bucket.s3.fr-par.scw.cloud/key`) unless the bucket
    /// name has dots or the endpoint is an override: then path style.
    case automatic
    case virtualHost
    case path
}

/// Tunables of the ``ObjectStorageClient``.
public struct ObjectStorageOptions: Sendable {
    public var addressing: S3AddressingStyle
    /// Retries of failed requests; also bounds the resumptions of a GET.
    public var retry: RetryPolicy
    public var partSize: PartSizePolicy
    /// Parts uploaded at once by uploads and ``MultipartUploadWriter``. A
    /// writer holds at most this many plus the part filling, and no more than
    /// ``MultipartUploadWriter/partMemoryBudget`` of parts (2 in flight with
    /// 8 MiB parts).
    public var uploadConcurrency: Int
    /// Ranges fetched at once by parallel downloads.
    public var downloadConcurrency: Int
    /// Size of one range of a parallel download.
    public var downloadRangeSize: Int64
    /// Hash in-memory bodies up to this size into `x-amz-content-sha256`
    /// when the caller gives no hash; larger and streamed bodies are then
    /// sent `UNSIGNED-PAYLOAD` with Content-MD5. Multipart parts always carry
    /// their SHA-256, whatever their size.
    public var signedPayloadLimit: Int
    /// The clock retry delays are measured on (tests inject a virtual one).
    public var clock: any ScalewayClock
    /// The wall clock requests are signed with (`x-amz-date`). Tests inject
    /// a skewed one to check how a wrong system clock is reported.
    public var signingClock: @Sendable () -> Date
    /// The credentials were created moments ago: a 403 `InvalidAccessKeyId`
    /// or `AccessDenied` may be IAM propagation and is retried within
    /// ``RetryPolicy/propagation``'s window (give it ``PropagationPolicy/iam``).
    public var freshCredentials: Bool

    public init(addressing: S3AddressingStyle = .automatic, retry: RetryPolicy = .objectStorage,
                partSize: PartSizePolicy = PartSizePolicy(), uploadConcurrency: Int = 3, downloadConcurrency: Int = 4,
                downloadRangeSize: Int64 = 16 << 20, signedPayloadLimit: Int = 1 << 20, clock: any ScalewayClock = SystemClock(),
                signingClock: @escaping @Sendable () -> Date = { Date() }, freshCredentials: Bool = false) {
        self.addressing = addressing
        self.retry = retry
        self.partSize = partSize
        self.uploadConcurrency = max(1, uploadConcurrency)
        self.downloadConcurrency = max(1, downloadConcurrency)
        self.downloadRangeSize = max(1 << 20, downloadRangeSize)
        self.signedPayloadLimit = signedPayloadLimit
        self.clock = clock
        self.signingClock = signingClock
        self.freshCredentials = freshCredentials
    }
}
