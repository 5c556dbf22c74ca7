import Logging
import PluginProtocol
import QCOW2
import Synchronization

/// Checks the structure of a staged image with ranged GETs before backup
/// presents it to Plakar, so a damaged export is refused instead of
/// becoming a backup that cannot be restored.
///
/// The export's ETag is computed over the bytes as stored, so it matches a
/// damaged image: only the image's own structure can tell. The check reads
/// the header, the L1 table, the refcount table and every L2 table (about
/// 1/8192 of the image with 64 KiB clusters), never the data, and runs
/// ``QCOW2StructureCheck`` on them: the import policy, tables aligned and
/// inside the object, no overlapping metadata, no data on metadata, a
/// virtual size equal to the volume's and an object long enough for all it
/// references. Refcount values are not compared with the references.
///
/// Memory: the L1 table (20 KiB per TiB of disk with 64 KiB clusters; at
/// most 32 MiB) plus ``requestBytes`` per GET in flight.
struct StagedImageCheck: Sendable {
    /// Largest ranged GET; adjacent L2 tables are read together up to this.
    static let requestBytes: UInt64 = 1 << 20
    /// GETs in flight for the L2 tables.
    static let concurrency = 4
    /// Attempts per GET cut or refused transiently (each resumes).
    static let maxAttempts = 6

    let store: any ObjectStore
    let bucket: String
    let key: String
    /// The object's length (from HEAD once the export finished).
    let size: Int64
    let volume: PlannedVolume
    private let logger = Logger(label: "backup")

    init(store: any ObjectStore, bucket: String, key: String, size: Int64, volume: PlannedVolume) {
        self.store = store
        self.bucket = bucket
        self.key = key
        self.size = size
        self.volume = volume
    }

    /// Runs the check.
    ///
    /// - Throws: a ``PluginError`` of kind `remote` naming the volume, the
    ///   object and what is wrong when the image is damaged; the error of a
    ///   failed GET otherwise.
    @discardableResult
    func verify() async throws -> QCOW2Inspection {
        let start = ContinuousClock.now
        let inspection: QCOW2Inspection
        do {
            inspection = try await inspect()
        } catch let error as QCOW2Error {
            logger.error("the staged image of \(volume.familyLabel) at s3://\(bucket)/\(key) is corrupt: \(error)")
            throw corruption(error)
        }
        logger.info("""
            staged image of \(volume.familyLabel) checked in \(ContinuousClock.now - start): \
            \(inspection.l2TableCount) L2 table(s), \(inspection.refcountBlockCount) refcount block(s), \
            \(inspection.dataClusterCount + inspection.compressedClusterCount) data cluster(s)
            """)
        return inspection
    }

    private func corruption(_ error: QCOW2Error) -> PluginError {
        return PluginError(.remote,
                           """
                           the staged image of \(volume.familyLabel) (s3://\(bucket)/\(key), \(size) bytes) is corrupt \
                           (\(error.reason.rawValue)): \(error.message). The export produced a damaged QCOW2 image; it was not \
                           passed on to Plakar and this volume is not in the backup
                           """,
                           hint: """
                           run the backup again (a new export is made); if the image is corrupt again, set keep_staging=true \
                           and run `qemu-img check` on the staged object, and report it to Scaleway support
                           """,
                           cause: error.description)
    }

    private func inspect() async throws -> QCOW2Inspection {
        let fileSize = UInt64(size)
        let header = try await readHeader(fileSize: fileSize)
        let expected = UInt64(max(0, volume.size))
        guard header.virtualSize == expected else {
            throw QCOW2Error(.virtualSize, "its virtual size is \(header.virtualSize) bytes but the volume has \(expected) bytes", offset: 24)
        }
        var check = try QCOW2StructureCheck(header: header, fileSize: fileSize)

        let l1 = try await fetch(check.l1TableRange)
        let l2Tables = try l1.withUnsafeBytes { try check.addL1Table($0) }

        let table = check.refcountTableRange
        for offset in stride(from: table.lowerBound, to: table.upperBound, by: Int(Self.requestBytes)) {
            let piece = try await fetch(offset..<min(table.upperBound, offset + Self.requestBytes))
            try piece.withUnsafeBytes { try check.addRefcountTable($0, at: offset) }
        }

        // L2 tables by host offset, adjacent ones read together.
        let clusterSize = header.clusterSize
        var runs: [[QCOW2StructureCheck.L2Table]] = []
        for table in l2Tables.sorted(by: { $0.offset < $1.offset }) {
            if let last = runs.last?.last, last.offset + clusterSize == table.offset,
               UInt64(runs[runs.count - 1].count + 1) * clusterSize <= Self.requestBytes {
                runs[runs.count - 1].append(table)
            } else {
                runs.append([table])
            }
        }
        try await withThrowingTaskGroup(of: ([QCOW2StructureCheck.L2Table], [UInt8]).self) { group in
            var next = 0
            func startNext() {
                guard next < runs.count else { return }
                let run = runs[next]
                next += 1
                group.addTask {
                    (run, try await fetch(run[0].offset..<(run[run.count - 1].offset + clusterSize)))
                }
            }
            for _ in 0..<Self.concurrency { startNext() }
            while let (run, bytes) = try await group.next() {
                try bytes.withUnsafeBytes { all in
                    for (position, table) in run.enumerated() {
                        let start = position * Int(clusterSize)
                        try check.checkL2Table(UnsafeRawBufferPointer(rebasing: all[start..<(start + Int(clusterSize))]), of: table)
                    }
                }
                startNext()
            }
        }
        return try check.finish()
    }

    /// Reads and parses the header cluster (the first 64 KiB, more only for
    /// larger clusters).
    private func readHeader(fileSize: UInt64) async throws -> QCOW2Header {
        var length = min(fileSize, 64 << 10)
        while true {
            let prefix = try await fetch(0..<length)
            do {
                let header = try QCOW2Header.parse(prefix)
                if header.clusterSize <= length || length == fileSize { return header }
                length = min(fileSize, header.clusterSize)
            } catch let error as QCOW2Error where error.reason == .truncated && length < min(fileSize, 2 << 20) {
                length = min(fileSize, 2 << 20)  // extensions may fill a cluster up to 2 MiB
            }
        }
    }

    /// One range of the object, resuming after a cut connection from the
    /// last byte received.
    private func fetch(_ range: Range<UInt64>) async throws -> [UInt8] {
        let length = Int64(range.count)
        let buffer = FetchBuffer()
        buffer.bytes.withLock { $0.reserveCapacity(Int(length)) }
        let received = { Int64(buffer.bytes.withLock { $0.count }) }
        var attempt = 0
        while received() < length {
            let from = received()
            do {
                try await store.getObject(bucket: bucket, key: key, offset: Int64(range.lowerBound) + from, length: length - from) { bytes in
                    buffer.bytes.withLock { $0.append(contentsOf: bytes) }
                }
                if received() < length {
                    throw CloudError(.transport, message: "response ended after \(received() - from) of \(length - from) bytes")
                }
            } catch where CloudFailure.isTransient(error) && attempt + 1 < Self.maxAttempts {
                attempt += 1
                logger.warning("GET \(key) bytes \(Int64(range.lowerBound) + received())- (image check): \(error); resuming (attempt \(attempt + 1) of \(Self.maxAttempts))")
                try await Task.sleep(for: .milliseconds(100 << min(attempt, 5)))
            } catch {
                throw CloudFailure.map(error, action: "check the staged image of \(volume.familyLabel) (s3://\(bucket)/\(key))",
                                       permissionSet: PermissionSet.objectsRead)
            }
        }
        return buffer.bytes.withLock { bytes in
            if bytes.count > Int(length) { bytes.removeLast(bytes.count - Int(length)) }
            return bytes
        }
    }
}

/// The bytes a streaming GET delivers (the sink may run on the transport's thread).
private final class FetchBuffer: Sendable {
    let bytes = Mutex<[UInt8]>([])
}
