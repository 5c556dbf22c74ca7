/// Everything the plugin needs to reach Scaleway, built once from the
/// configuration: one transport (one handle pool) shared by all clients.
public struct ScalewaySession: Sendable {
    public let credentials: ScalewayCredentials
    public let endpoints: ScalewayEndpoints
    public let transport: Transport
    public let instance: InstanceClient
    public let block: BlockClient
    public let snapshots: VolumeSnapshots
    public let objectStorageOptions: ObjectStorageOptions

    /// - Throws: ``TransportError`` of kind `.configuration` (e.g. an unreadable CA file).
    public init(credentials: ScalewayCredentials, endpoints: ScalewayEndpoints = ScalewayEndpoints(),
                transport configuration: TransportConfiguration = TransportConfiguration(),
                apiOptions: APIClientOptions = APIClientOptions(),
                objectStorageOptions: ObjectStorageOptions = ObjectStorageOptions()) throws {
        self.credentials = credentials
        self.endpoints = endpoints
        self.transport = try Transport(configuration: configuration)
        self.instance = InstanceClient(transport: transport, credentials: credentials, endpoints: endpoints, options: apiOptions)
        self.block = BlockClient(transport: transport, credentials: credentials, endpoints: endpoints, options: apiOptions)
        self.snapshots = VolumeSnapshots(instance: instance, block: block)
        self.objectStorageOptions = objectStorageOptions
    }

    /// The Object Storage client of `region` (the zone's region for staging buckets).
    public func objectStorage(region: Region) throws -> ObjectStorageClient {
        try ObjectStorageClient(transport: transport, credentials: credentials, region: region, endpoints: endpoints,
                                options: objectStorageOptions)
    }
}
