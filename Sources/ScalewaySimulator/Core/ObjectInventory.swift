/// What the simulator needs from the object store beyond ``ObjectStorage``:
/// creating the seeded buckets, and listing everything for `GET /_sim/state`.
///
/// Closures rather than a protocol so the store's own API stays its owner's.
struct ObjectInventory: Sendable {
    var createBucket: @Sendable (BucketInfo) throws -> Void
    var buckets: @Sendable () -> [BucketInfo]
    /// Every object, rendered for the state document.
    var objects: @Sendable () -> [StoredObject]
    /// Every incomplete multipart upload, rendered for the state document.
    var multipartUploads: @Sendable () -> [[String: String]]
}
