import class ScalewayKit.PartBuffer

/// The Instance and Block API calls the connector makes.
///
/// One zone per call; every method throws ``CloudError``. Implemented over
/// ScalewayKit by ``ScalewayKitCloud``; the flows only see this protocol,
/// which keeps them readable and lets tests observe every call.
public protocol ComputeAPI: Sendable {
    // Servers
    func getServer(zone: Zone, id: String) async throws -> CloudServer
    /// Servers whose name CONTAINS `name` (the API's filter is a substring match).
    func listServers(zone: Zone, name: String) async throws -> [CloudServer]
    /// `poweron`, `poweroff`: returns once accepted (202), not when done.
    func serverAction(zone: Zone, id: String, action: String) async throws
    func createServer(zone: Zone, _ request: CreateServerRequest) async throws -> CloudServer
    /// PATCH with the COMPLETE volumes map (an index left out is detached).
    func setServerVolumes(zone: Zone, id: String, volumes: [Int: ServerVolumeTemplate]) async throws -> CloudServer
    func deleteServer(zone: Zone, id: String) async throws

    // Instance volumes (l_ssd)
    func getInstanceVolume(zone: Zone, id: String) async throws -> CloudVolume
    func createInstanceVolume(zone: Zone, name: String, project: String, baseSnapshot: String, tags: [String]) async throws -> CloudVolume
    func deleteInstanceVolume(zone: Zone, id: String) async throws
    /// Replaces an l_ssd volume's tags.
    func setInstanceVolumeTags(zone: Zone, id: String, tags: [String]) async throws
    /// The zone's l_ssd volumes carrying every tag in `tags` (callers check the tags again).
    func listInstanceVolumes(zone: Zone, project: String?, tags: [String]) async throws -> [CloudVolume]

    // Instance snapshots
    func createInstanceSnapshot(zone: Zone, name: String, volumeID: String, project: String, tags: [String]) async throws -> CloudSnapshot
    func importInstanceSnapshot(zone: Zone, name: String, project: String, bucket: String, key: String, tags: [String]) async throws -> CloudSnapshot
    func getInstanceSnapshot(zone: Zone, id: String) async throws -> CloudSnapshot
    func exportInstanceSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws
    func deleteInstanceSnapshot(zone: Zone, id: String) async throws
    /// First page of the zone's Instance snapshots (a cheap permission probe).
    func listInstanceSnapshots(zone: Zone, project: String?) async throws -> [CloudSnapshot]

    // Block volumes (SBS)
    func getBlockVolume(zone: Zone, id: String) async throws -> CloudVolume
    func createBlockVolume(zone: Zone, name: String, project: String, snapshotID: String, perfIOPS: Int, tags: [String]) async throws -> CloudVolume
    func deleteBlockVolume(zone: Zone, id: String) async throws
    /// Replaces an SBS volume's tags.
    func setBlockVolumeTags(zone: Zone, id: String, tags: [String]) async throws
    /// The zone's SBS volumes carrying every tag in `tags` (callers check the tags again).
    func listBlockVolumes(zone: Zone, project: String?, tags: [String]) async throws -> [CloudVolume]

    // Block snapshots
    func createBlockSnapshot(zone: Zone, name: String, volumeID: String, project: String, tags: [String]) async throws -> CloudSnapshot
    func importBlockSnapshot(zone: Zone, name: String, project: String, bucket: String, key: String, tags: [String]) async throws -> CloudSnapshot
    func getBlockSnapshot(zone: Zone, id: String) async throws -> CloudSnapshot
    func exportBlockSnapshot(zone: Zone, id: String, bucket: String, key: String) async throws
    func deleteBlockSnapshot(zone: Zone, id: String) async throws
    /// First page of the zone's Block snapshots (a cheap permission probe).
    func listBlockSnapshots(zone: Zone, project: String?) async throws -> [CloudSnapshot]
}

/// Object Storage calls in one region.
public protocol ObjectStore: Sendable {
    /// The bucket's region (`GetBucketLocation`); throws notFound when absent.
    func bucketRegion(_ bucket: String) async throws -> String
    /// `HEAD`; nil when the object does not exist.
    func headObject(bucket: String, key: String) async throws -> ObjectFacts?
    /// Ranged GET of `[offset, offset+length)`; bytes are handed to `sink`
    /// as they arrive. On failure the error is thrown after the bytes
    /// already delivered, so the caller can resume from there.
    func getObject(bucket: String, key: String, offset: Int64, length: Int64,
                   sink: @escaping @Sendable (UnsafeRawBufferPointer) -> Void) async throws
    func listObjects(bucket: String, prefix: String) async throws -> [ObjectFacts]
    func deleteObject(bucket: String, key: String) async throws
    func createMultipartUpload(bucket: String, key: String, contentType: String) async throws -> String
    /// Uploads a sealed part (its bytes and SHA-256); returns the part's ETag.
    func uploadPart(bucket: String, key: String, uploadID: String, partNumber: Int, part: PartBuffer) async throws -> String
    func completeMultipartUpload(bucket: String, key: String, uploadID: String, parts: [(number: Int, etag: String)]) async throws
    func abortMultipartUpload(bucket: String, key: String, uploadID: String) async throws
    /// A small object in one PUT (run leases).
    func putObject(bucket: String, key: String, bytes: [UInt8], contentType: String) async throws
    /// Multipart uploads started and not completed under `prefix`, all pages.
    func listMultipartUploads(bucket: String, prefix: String) async throws -> [(key: String, uploadID: String)]
}

/// Everything a connector session talks to.
public protocol CloudSession: Sendable {
    var compute: any ComputeAPI { get }
    /// The Object Storage client of `region` (`fr-par`...).
    func objectStore(region: String) -> any ObjectStore
}
