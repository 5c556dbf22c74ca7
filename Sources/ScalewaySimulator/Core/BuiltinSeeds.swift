import Foundation

extension Seed {
    static let gigabyte: Int64 = 1_000_000_000
    static let mebibyte: Int64 = 1 << 20

    static let fullAccess = ["InstancesFullAccess", "BlockStorageFullAccess",
                             "ObjectStorageBucketsRead", "ObjectStorageBucketsWrite",
                             "ObjectStorageObjectsRead", "ObjectStorageObjectsWrite"]

    /// The three keys every built-in seed has: full access (first), one
    /// without `BlockStorageFullAccess`, and an expired one.
    static let standardKeys: [Key] = [
        Key(name: "full-access", permissionSets: fullAccess),
        Key(name: "no-block-storage", permissionSets: fullAccess.filter { $0 != "BlockStorageFullAccess" }),
        Key(name: "expired", permissionSets: fullAccess, expired: true),
    ]

    /// Regions laid out like an OS disk: a boot area, file-system metadata
    /// groups at regular intervals, and files scattered over the disk,
    /// adding up to about `total` bytes below `limit`.
    static func osDiskLayout(total: Int64, limit: Int64, seed: UInt64) -> [ContentRegion] {
        var regions: [ContentRegion] = []
        // Partition table and boot loader, then /boot.
        regions.append(ContentRegion(offset: 0, length: mebibyte, seed: seed))
        regions.append(ContentRegion(offset: 1 * mebibyte, length: 64 * mebibyte, seed: seed &+ 1))
        // File-system metadata: inode tables every 128 MiB.
        var metadata: Int64 = 0
        var offset: Int64 = 128 * mebibyte
        while offset < limit - 4 * mebibyte {
            regions.append(ContentRegion(offset: offset, length: 2 * mebibyte, seed: seed &+ 2 &+ UInt64(offset / mebibyte)))
            metadata += 2 * mebibyte
            offset += 128 * mebibyte
        }
        // Files: a deterministic scatter of 1-24 MiB extents in the rest.
        var remaining = total - 65 * mebibyte - metadata
        var draw = SplitMix64(seed: seed)
        var index: UInt64 = 0
        while remaining > 0 {
            let length = min(remaining, Int64(1 + draw.next() % 24) * mebibyte)
            let slot = Int64(draw.next() % UInt64((limit - 256 * mebibyte) / mebibyte))
            let start = 128 * mebibyte + 4 * mebibyte + slot * mebibyte
            regions.append(ContentRegion(offset: start, length: length, seed: seed &+ 1000 &+ index))
            remaining -= length
            index += 1
        }
        return regions
    }

    /// The demo account: `web-01` (running, l_ssd root of 10 GB with about
    /// 600 MB of OS-like data, an sbs_5k of 20 GB with about 100 MB, an
    /// sbs_15k of 5 GB with about 1 GB), `db-01` with a single SBS root, the
    /// staging bucket, and the three standard keys.
    public static var demo: Seed {
        let gb = gigabyte, mib = mebibyte
        return Seed(
            zone: "fr-par-1",
            projects: [Project(name: "default")],
            keys: standardKeys,
            buckets: [Bucket(name: "plakar-staging", region: "fr-par")],
            servers: [
                Server(name: "web-01", commercialType: "PRO2-XXS", state: "running", tags: ["web", "production"], volumes: [
                    "0": Volume(name: "web-01-root", type: .lSSD, size: 10 * gb,
                                content: osDiskLayout(total: 600 * mib, limit: 10 * gb, seed: 0x5EED_0001)),
                    "1": Volume(name: "web-01-data", type: .sbs5k, size: 20 * gb, content: [
                        ContentRegion(offset: 0, length: 4 * mib, seed: 0x5EED_0101),
                        ContentRegion(offset: 2 * gb, length: 48 * mib, seed: 0x5EED_0102),
                        ContentRegion(offset: 11 * gb + 3 * mib, length: 48 * mib, seed: 0x5EED_0103),
                    ]),
                    "2": Volume(name: "web-01-fast", type: .sbs15k, size: 5 * gb, content: [
                        ContentRegion(offset: 0, length: 512 * mib, seed: 0x5EED_0201),
                        ContentRegion(offset: 3 * gb, length: 512 * mib, seed: 0x5EED_0202),
                    ]),
                ]),
                Server(name: "db-01", commercialType: "PRO2-S", state: "running", tags: ["db"], volumes: [
                    "0": Volume(name: "db-01-root", type: .sbs5k, size: 10 * gb, content: [
                        ContentRegion(offset: 0, length: 64 * mib, seed: 0x5EED_0301),
                        ContentRegion(offset: 4 * gb, length: 32 * mib, seed: 0x5EED_0302),
                    ]),
                ]),
            ])
    }

    /// A small account for fast tests: the same shape as the demo with
    /// 1 GB volumes holding a few MiB each.
    public static var tiny: Seed {
        let gb = gigabyte, mib = mebibyte
        return Seed(
            zone: "fr-par-1",
            projects: [Project(name: "default")],
            keys: standardKeys,
            buckets: [Bucket(name: "plakar-staging", region: "fr-par")],
            servers: [
                Server(name: "web-01", commercialType: "DEV1-S", state: "running", tags: ["web"], volumes: [
                    "0": Volume(name: "web-01-root", type: .lSSD, size: 1 * gb, content: [
                        ContentRegion(offset: 0, length: mib, seed: 11),
                        ContentRegion(offset: 300 * mib + 12345, length: 2 * mib + 777, seed: 12),
                    ]),
                    "1": Volume(name: "web-01-data", type: .sbs5k, size: 1 * gb, content: [
                        ContentRegion(offset: 64 * mib, length: mib, seed: 21),
                    ]),
                    "2": Volume(name: "web-01-fast", type: .sbs15k, size: 1 * gb, content: [
                        ContentRegion(offset: 0, length: 512 * 1024, seed: 31),
                        ContentRegion(offset: gb - mib, length: mib, seed: 32),
                    ]),
                ]),
                Server(name: "db-01", commercialType: "DEV1-S", state: "stopped", tags: ["db"], volumes: [
                    "0": Volume(name: "db-01-root", type: .sbs5k, size: 1 * gb, content: [
                        ContentRegion(offset: 0, length: mib, seed: 41),
                    ]),
                ]),
            ])
    }
}
