import PluginProtocol

/// The checks `open` and `ping` run: read-only calls that prove the key
/// reaches everything the run will need, without creating anything.
struct AccessCheck {
    let compute: any ComputeAPI
    let store: any ObjectStore

    /// Checks the bucket exists and lives in `region`, and that the key can
    /// list it (ObjectStorageBucketsRead / ObjectStorageObjectsRead).
    func checkBucket(_ bucket: String, region: String, prefix: String) async throws {
        let bucketRegion: String
        do {
            bucketRegion = try await store.bucketRegion(bucket)
        } catch where CloudFailure.isNotFound(error) {
            throw PluginError(.config, "bucket \(bucket) does not exist (or is not visible to this key) in region \(region)",
                              hint: "create the bucket in \(region), in the instance's project", field: "bucket",
                              cause: (error as? CloudError)?.description)
        } catch {
            throw CloudFailure.map(error, action: "read bucket \(bucket)", permissionSet: PermissionSet.bucketsRead)
        }
        guard bucketRegion == region else {
            throw PluginError(.config, "bucket \(bucket) is in region \(bucketRegion), but the instance's zone is in \(region)",
                              hint: "Scaleway exports only to a bucket of the same region: use a bucket in \(region)",
                              field: "bucket")
        }
        _ = try await CloudFailure.attempt("list objects of bucket \(bucket)", permissionSet: PermissionSet.objectsRead) {
            try await store.listObjects(bucket: bucket, prefix: prefix)
        }
    }

    /// Checks Instance and (when needed) Block snapshot access in `zone`.
    func checkSnapshots(zone: Zone, project: String?, needsBlock: Bool, needsInstance: Bool, firstSBS: String?) async throws {
        if needsInstance {
            _ = try await CloudFailure.attempt("list Instance snapshots in \(zone)", permissionSet: PermissionSet.instances) {
                try await compute.listInstanceSnapshots(zone: zone, project: project)
            }
        }
        if needsBlock {
            _ = try await CloudFailure.attempt("snapshot SBS volume \(firstSBS ?? "")", permissionSet: PermissionSet.block) {
                try await compute.listBlockSnapshots(zone: zone, project: project)
            }
        }
    }
}
