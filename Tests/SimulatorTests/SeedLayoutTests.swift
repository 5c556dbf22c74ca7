import Foundation
import Testing
@testable import ScalewaySimulator

@Suite struct SeedLayoutTests {
    /// Bytes covered by the union of the regions.
    func written(_ regions: [ContentRegion]) -> Int64 {
        var covered: Int64 = 0, end: Int64 = 0
        for r in regions.sorted(by: { $0.offset < $1.offset }) {
            let start = max(r.offset, end), stop = r.offset + r.length
            if stop > start { covered += stop - start }
            end = max(end, stop)
        }
        return covered
    }

    @Test func demoSeedHasTheDocumentedShape() throws {
        let demo = Seed.demo
        let mb: Int64 = 1_000_000
        #expect(demo.zone == "fr-par-1")
        #expect(demo.keys.first?.permissionSets.contains("BlockStorageFullAccess") == true)
        #expect(demo.keys[1].permissionSets.contains("BlockStorageFullAccess") == false)
        #expect(demo.keys[2].expired == true)
        let web = try #require(demo.servers.first { $0.name == "web-01" })
        #expect(web.state == "running")
        let root = try #require(web.volumes["0"]), data = try #require(web.volumes["1"]), fast = try #require(web.volumes["2"])
        #expect(root.type == .lSSD && root.size == 10_000_000_000)
        #expect((550 * mb...650 * mb).contains(written(root.content ?? [])))
        #expect((root.content ?? []).count > 20) // boot area, metadata groups, scattered files
        #expect(data.type == .sbs5k && data.size == 20_000_000_000)
        #expect((90 * mb...110 * mb).contains(written(data.content ?? [])))
        #expect(fast.type == .sbs15k && fast.size == 5_000_000_000)
        #expect((1000 * mb...1100 * mb).contains(written(fast.content ?? [])))
        let db = try #require(demo.servers.first { $0.name == "db-01" })
        #expect(db.volumes.count == 1 && db.volumes["0"]?.type.isBlock == true)
        for volume in demo.servers.flatMap(\.volumes.values) {
            #expect((volume.content ?? []).allSatisfy { $0.offset >= 0 && $0.offset + $0.length <= volume.size })
        }
    }

    @Test func contentIsDeterministicIncompressibleAndSplitInvariant() throws {
        let dir = try HTTPTestSupport.temporaryDirectory("pattern")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let a = dir + "/a", b = dir + "/b"
        try SparseFile.create(at: a, size: 8 << 20)
        try SparseFile.create(at: b, size: 8 << 20)
        try ContentPattern.write([ContentRegion(offset: 1000, length: 5 << 20, seed: 42)], to: a)
        try ContentPattern.write([ContentRegion(offset: 1000, length: 2 << 20, seed: 42),
                                  ContentRegion(offset: 1000 + (2 << 20), length: 3 << 20, seed: 42)], to: b)
        #expect(try SparseFile.sha256(of: a).digest == SparseFile.sha256(of: b).digest)
        // Incompressible: gzip barely shrinks it.
        let gz = try HTTPTestSupport.run("sh", ["-c", "head -c 4194304 \(a) | tail -c 2097152 | gzip -c | wc -c"])
        #expect((Int(gz.text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 2_000_000)
        // Holes stay holes.
        let extents = try SparseFile.dataExtents(of: a)
        #expect(extents.first.map { $0.offset <= 1000 } == true)
        #expect(extents.reduce(0) { $0 + $1.length } < 7 << 20)
    }
}
