import Crypto
import Foundation
import Logging
import Synchronization

/// The simulator's Object Storage back end: buckets, objects and multipart
/// uploads persisted in a directory, surviving restarts.
///
/// Layout under the root directory:
/// - `buckets.json`: every bucket (name, region, project);
/// - `objects/<bucket>/meta/<sha256(key)>.json` and `objects/<bucket>/data/<uuid>`:
///   one metadata file and one data file per object (a new data file per
///   write, so readers holding the old one keep consistent bytes);
/// - `multipart/<uploadId>/`: the upload's description and its parts: each
///   part in its slot of the `assembly` file (slot n at (n-1) x the upload's
///   slot size, so completing parts 1...N of equal size is a rename), or, when
///   it does not fit that layout, in a file of its own.
///
/// Thread-safe: the index lives behind a lock; hashing and copying happen
/// outside it.
public final class ObjectStore: ObjectStorage {
    private struct State {
        var buckets: [String: BucketInfo] = [:]
        var objects: [String: [String: ObjectRecord]] = [:]
        var uploads: [String: Upload] = [:]
        /// Tells reservations apart (a late release must not end a newer one).
        var nextReservation = 0
    }

    private struct Upload {
        var record: MultipartRecord
        var parts: [Int: PartRecord] = [:]
        /// Part number -> reservation of its slot by a body being written.
        var reserved: [Int: Int] = [:]
    }

    /// The name of each upload's assembly file (``PartRecord/dataFile`` of in-slot parts).
    static let assemblyFile = "assembly"
    /// Slots end below this offset (ext4 files stop at 16 TiB).
    static let maxAssemblySize: Int64 = 8 << 40

    /// The root directory.
    public let directory: String
    private let state = Mutex(State())
    private let logger = Logger(label: "sim.s3.store")

    /// Opens (or creates) the store in `directory`, loading what a previous
    /// run left there.
    public init(directory: String) throws {
        self.directory = directory
        let fm = FileManager.default
        for sub in ["objects", "multipart", "tmp"] {
            try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        try load()
    }

    // MARK: Paths

    var temporaryDirectory: String { directory + "/tmp" }
    private func bucketDirectory(_ bucket: String) -> String { directory + "/objects/" + bucket }
    private func dataPath(_ bucket: String, _ file: String) -> String { bucketDirectory(bucket) + "/data/" + file }
    private func metaPath(_ bucket: String, _ key: String) -> String {
        bucketDirectory(bucket) + "/meta/" + Hex.encode(Digest.sha256(Array(key.utf8))) + ".json"
    }
    private func uploadDirectory(_ id: String) -> String { directory + "/multipart/" + id }
    private func assemblyPath(_ id: String) -> String { uploadDirectory(id) + "/" + Self.assemblyFile }

    // MARK: Buckets

    /// Every bucket, by name.
    public var buckets: [BucketInfo] {
        state.withLock { $0.buckets.values.sorted { $0.name < $1.name } }
    }

    public func bucket(named name: String) -> BucketInfo? { state.withLock { $0.buckets[name] } }

    /// Creates a bucket (seeds and `CreateBucket`).
    /// - Throws: ``S3Error`` `BucketAlreadyOwnedByYou` / `BucketAlreadyExists`, `InvalidBucketName`.
    public func createBucket(_ info: BucketInfo) throws {
        guard Self.isValidBucketName(info.name) else {
            throw S3Error(400, "InvalidBucketName", "The specified bucket is not valid.", details: [("BucketName", info.name)])
        }
        try FileManager.default.createDirectory(atPath: bucketDirectory(info.name) + "/meta", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: bucketDirectory(info.name) + "/data", withIntermediateDirectories: true)
        let createdFile = bucketDirectory(info.name) + "/created"
        if !FileManager.default.fileExists(atPath: createdFile) {
            try String(Self.now().timeIntervalSince1970).write(toFile: createdFile, atomically: true, encoding: .utf8)
        }
        try state.withLock { state in
            if let existing = state.buckets[info.name] {
                if existing.projectID == info.projectID {
                    throw S3Error(409, "BucketAlreadyOwnedByYou",
                                  "Your previous request to create the named bucket succeeded and you already own it.",
                                  details: [("BucketName", info.name)])
                }
                throw S3Error(409, "BucketAlreadyExists", "The requested bucket name is not available.",
                              details: [("BucketName", info.name)])
            }
            state.buckets[info.name] = info
            state.objects[info.name] = state.objects[info.name] ?? [:]
            try saveBuckets(state.buckets)
        }
    }

    /// When the bucket was created (ListBuckets).
    func creationDate(ofBucket name: String) -> Date {
        let text = (try? String(contentsOfFile: bucketDirectory(name) + "/created", encoding: .utf8)) ?? ""
        return Double(text).map { Date(timeIntervalSince1970: $0) } ?? Date(timeIntervalSince1970: 0)
    }

    /// Deletes an empty bucket.
    /// - Throws: ``S3Error`` `NoSuchBucket`, `BucketNotEmpty`.
    public func deleteBucket(named name: String) throws {
        try state.withLock { state in
            guard state.buckets[name] != nil else { throw S3Error.noSuchBucket(name) }
            guard state.objects[name]?.isEmpty ?? true, !state.uploads.values.contains(where: { $0.record.bucket == name })
            else {
                throw S3Error(409, "BucketNotEmpty", "The bucket you tried to delete is not empty",
                              details: [("BucketName", name)])
            }
            state.buckets[name] = nil
            state.objects[name] = nil
            try saveBuckets(state.buckets)
        }
        try? FileManager.default.removeItem(atPath: bucketDirectory(name))
    }

    static func isValidBucketName(_ name: String) -> Bool {
        guard (3...63).contains(name.utf8.count) else { return false }
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-".utf8)
        guard name.utf8.allSatisfy(allowed.contains) else { return false }
        guard let first = name.utf8.first, let last = name.utf8.last,
              first != UInt8(ascii: "."), first != UInt8(ascii: "-"),
              last != UInt8(ascii: "."), last != UInt8(ascii: "-") else { return false }
        return !name.contains("..")
    }

    // MARK: Objects (ObjectStorage)

    public func object(bucket: String, key: String) -> StoredObject? {
        state.withLock { state in
            state.objects[bucket]?[key].map { stored(bucket, $0) }
        }
    }

    @discardableResult
    public func putObject(bucket: String, key: String, contentsOf file: String, contentType: String,
                          partSize: Int64?) throws -> StoredObject {
        let etag: String
        var partSizes: [Int64]?
        if let partSize, partSize > 0 {
            let md5s = try FileDigest.partMD5s(file: file, partSize: partSize)
            etag = FileDigest.multipartETag(md5s)
            var attributes = stat()
            let total: Int64 = stat(file, &attributes) == 0 ? Int64(attributes.st_size) : 0
            partSizes = (0..<md5s.count).map { index in min(partSize, total - Int64(index) * partSize) }
        } else {
            etag = Hex.encode(try FileDigest.digest(file: file, sha256: false).md5)
        }
        let record = try install(bucket: bucket, key: key, from: file, etag: etag, contentType: contentType,
                                 metadata: [:], partSizes: partSizes)
        return stored(bucket, record)
    }

    public func deleteObject(bucket: String, key: String) {
        let removed: ObjectRecord? = state.withLock { state in
            guard let record = state.objects[bucket]?[key] else { return nil }
            state.objects[bucket]?[key] = nil
            unlink(metaPath(bucket, key))
            return record
        }
        if let removed { unlink(dataPath(bucket, removed.dataFile)) }
    }

    /// Every object of `bucket` whose key starts with `prefix`, sorted by key.
    public func objects(bucket: String, prefix: String = "") -> [StoredObject] {
        state.withLock { state in
            (state.objects[bucket] ?? [:]).values.filter { $0.key.hasPrefix(prefix) }
                .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }.map { stored(bucket, $0) }
        }
    }

    /// Every object of every bucket (for leak checks).
    public var allObjects: [StoredObject] {
        state.withLock { state in
            state.objects.keys.sorted().flatMap { bucket in
                (state.objects[bucket] ?? [:]).values.sorted { $0.key < $1.key }.map { stored(bucket, $0) }
            }
        }
    }

    /// The in-progress multipart uploads (for leak checks).
    public var multipartUploads: [MultipartUploadInfo] {
        state.withLock { state in
            state.uploads.values.map { upload in
                MultipartUploadInfo(uploadID: upload.record.uploadID, bucket: upload.record.bucket,
                                    key: upload.record.key, initiated: upload.record.initiated,
                                    partCount: upload.parts.count, bytes: upload.parts.values.reduce(0) { $0 + $1.size })
            }.sorted { ($0.bucket, $0.key, $0.uploadID) < ($1.bucket, $1.key, $1.uploadID) }
        }
    }

    func record(bucket: String, key: String) -> ObjectRecord? { state.withLock { $0.objects[bucket]?[key] } }

    /// Sorted records of `bucket` (listing).
    func sortedRecords(bucket: String, prefix: String) -> [ObjectRecord] {
        state.withLock { state in
            (state.objects[bucket] ?? [:]).values.filter { $0.key.hasPrefix(prefix) }
                .sorted { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        }
    }

    func dataFilePath(bucket: String, record: ObjectRecord) -> String { dataPath(bucket, record.dataFile) }

    /// Moves `file` in as the object `key` (replacing any previous version).
    func install(bucket: String, key: String, from file: String, etag: String, contentType: String,
                 metadata: [String: String], partSizes: [Int64]?) throws -> ObjectRecord {
        guard self.bucket(named: bucket) != nil else { throw S3Error.noSuchBucket(bucket) }
        let dataFile = UUID().uuidString.lowercased()
        let destination = dataPath(bucket, dataFile)
        try FileMover.move(file, to: destination)
        var attributes = stat()
        let size: Int64 = stat(destination, &attributes) == 0 ? Int64(attributes.st_size) : 0
        let record = ObjectRecord(key: key, size: size, etag: etag, contentType: contentType,
                                  lastModified: Self.now(), dataFile: dataFile, metadata: metadata,
                                  partCount: partSizes?.count, partSizes: partSizes)
        let replaced: ObjectRecord? = try state.withLock { state in
            guard state.buckets[bucket] != nil else {
                unlink(destination)
                throw S3Error.noSuchBucket(bucket)
            }
            try write(record, to: metaPath(bucket, key))
            let previous = state.objects[bucket]?[key]
            state.objects[bucket, default: [:]][key] = record
            return previous
        }
        if let replaced { unlink(dataPath(bucket, replaced.dataFile)) }
        return record
    }

    /// A new data file path in the store's temporary directory.
    func temporaryFile() -> String { temporaryDirectory + "/" + UUID().uuidString.lowercased() }

    private func stored(_ bucket: String, _ record: ObjectRecord) -> StoredObject {
        StoredObject(bucket: bucket, key: record.key, size: record.size, etag: "\"\(record.etag)\"",
                     contentType: record.contentType, lastModified: record.lastModified,
                     path: dataPath(bucket, record.dataFile))
    }

    /// Whole seconds: S3 dates carry milliseconds at most, and HTTP dates seconds.
    static func now() -> Date { Date(timeIntervalSince1970: (Date().timeIntervalSince1970 * 1000).rounded(.down) / 1000) }

    // MARK: Multipart

    func createUpload(bucket: String, key: String, contentType: String, metadata: [String: String]) throws -> MultipartRecord {
        let id = Self.makeUploadID()
        let record = MultipartRecord(uploadID: id, bucket: bucket, key: key, contentType: contentType,
                                     metadata: metadata, initiated: Self.now())
        try FileManager.default.createDirectory(atPath: uploadDirectory(id), withIntermediateDirectories: true)
        try write(record, to: uploadDirectory(id) + "/upload.json")
        state.withLock { $0.uploads[id] = Upload(record: record) }
        return record
    }

    func upload(_ id: String) -> (record: MultipartRecord, parts: [PartRecord])? {
        state.withLock { state in
            state.uploads[id].map { ($0.record, $0.parts.values.sorted { $0.number < $1.number }) }
        }
    }

    func uploads(bucket: String) -> [MultipartRecord] {
        state.withLock { state in
            state.uploads.values.map(\.record).filter { $0.bucket == bucket }
                .sorted { ($0.key, $0.initiated, $0.uploadID) < ($1.key, $1.initiated, $1.uploadID) }
        }
    }

    /// Stores `file` as part `number` of upload `id` (replacing an earlier one).
    func putPart(uploadID id: String, number: Int, from file: String, size: Int64, md5: String) throws -> PartRecord {
        let dataFile = "part-\(number)-" + UUID().uuidString.lowercased()
        let destination = uploadDirectory(id) + "/" + dataFile
        guard upload(id) != nil else { throw S3Error.noSuchUpload(id) }
        try FileMover.move(file, to: destination)
        let part = PartRecord(number: number, size: size, etag: md5, lastModified: Self.now(), dataFile: dataFile)
        let replaced: PartRecord? = try state.withLock { state in
            guard state.uploads[id] != nil else {
                unlink(destination)
                throw S3Error.noSuchUpload(id)
            }
            try write(part, to: uploadDirectory(id) + "/part-\(number).json")
            let previous = state.uploads[id]?.parts[number]
            state.uploads[id]?.parts[number] = part
            return previous
        }
        if let replaced, replaced.offset == nil { unlink(uploadDirectory(id) + "/" + replaced.dataFile) }
        return part
    }

    /// Reserves the slot of part `number` of upload `id` for a body of
    /// `length` bytes about to arrive (see ``HTTPBodyPlacement``); `nil`
    /// sends the body to a file of its own.
    ///
    /// The first part of at least `minimumSlot` bytes fixes the slot size;
    /// a part fits when it is no larger (the last part is usually smaller).
    /// A slot holding an accepted part is never reserved again: its
    /// replacement goes to its own file, so a refused replacement (bad
    /// Content-MD5, wrong signature) leaves the accepted bytes intact.
    func reserveSlot(uploadID id: String, number: Int, length: Int64, minimumSlot: Int64) -> HTTPBodyPlacement? {
        guard length > 0, number >= 1 else { return nil }
        let reservation: (offset: Int64, token: Int)? = state.withLock { state in
            guard var upload = state.uploads[id], upload.reserved[number] == nil,
                  upload.parts[number]?.offset == nil else { return nil }
            let slotSize: Int64
            if let fixed = upload.record.slotSize {
                slotSize = fixed
            } else {
                guard length >= minimumSlot else { return nil }
                // Created here, under the lock, while the upload surely exists: the
                // server opens it without O_CREAT, so a body arriving after an abort
                // cannot recreate it in a directory being removed.
                let fd = open(assemblyPath(id), O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
                guard fd >= 0 else { return nil }
                close(fd)
                slotSize = length
                upload.record.slotSize = slotSize
                guard (try? write(upload.record, to: uploadDirectory(id) + "/upload.json")) != nil else { return nil }
            }
            let offset = Int64(number - 1) * slotSize
            guard length <= slotSize, offset + length <= Self.maxAssemblySize else { return nil }
            state.nextReservation += 1
            upload.reserved[number] = state.nextReservation
            state.uploads[id] = upload
            return (offset, state.nextReservation)
        }
        guard let reservation else { return nil }
        return HTTPBodyPlacement(path: assemblyPath(id), offset: reservation.offset, length: length) { [self] in
            self.state.withLock { state in
                if state.uploads[id]?.reserved[number] == reservation.token { state.uploads[id]?.reserved[number] = nil }
            }
        }
    }

    /// Accepts a part written into its slot under `placement` (from
    /// ``reserveSlot(uploadID:number:length:minimumSlot:)``); `nil` when
    /// `placement` is not that slot's live reservation (then store the bytes
    /// as a file of their own).
    func putPart(uploadID id: String, number: Int, placed placement: HTTPBodyPlacement, size: Int64,
                 md5: String) throws -> PartRecord? {
        guard placement.path == assemblyPath(id) else { return nil }
        let part = PartRecord(number: number, size: size, etag: md5, lastModified: Self.now(),
                              dataFile: Self.assemblyFile, offset: placement.offset)
        let outcome: (accepted: Bool, replaced: PartRecord?) = try state.withLock { state in
            guard let upload = state.uploads[id] else { throw S3Error.noSuchUpload(id) }
            guard upload.reserved[number] != nil, let slotSize = upload.record.slotSize,
                  placement.offset == Int64(number - 1) * slotSize else { return (false, nil) }
            try write(part, to: uploadDirectory(id) + "/part-\(number).json")
            let previous = upload.parts[number]
            state.uploads[id]?.parts[number] = part
            state.uploads[id]?.reserved[number] = nil
            return (true, previous)
        }
        guard outcome.accepted else { return nil }
        if let replaced = outcome.replaced, replaced.offset == nil { unlink(uploadDirectory(id) + "/" + replaced.dataFile) }
        return part
    }

    /// Makes `parts` the object and ends the upload.
    ///
    /// When the parts are 1...N, each in its slot and all but the last one
    /// slot long, the assembly file already holds the object: it is cut to
    /// size and renamed into place (no byte copied, whatever the size).
    /// Otherwise the parts are copied into a new file in the kernel
    /// (copy_file_range, reflinks where the file system has them).
    func completeUpload(_ id: String, parts: [PartRecord]) throws -> ObjectRecord {
        guard let (record, _) = upload(id) else { throw S3Error.noSuchUpload(id) }
        let etag = FileDigest.multipartETag(parts.map { Hex.decode($0.etag) ?? [] })
        let total = parts.reduce(Int64(0)) { $0 + $1.size }
        let assembly = assemblyPath(id)
        // In place: decided and the upload taken out under the lock, so no
        // part can be replaced or placed into the file after the check.
        let inPlace: Bool = try state.withLock { state in
            guard let upload = state.uploads[id] else { throw S3Error.noSuchUpload(id) }
            guard upload.reserved.isEmpty, let slotSize = upload.record.slotSize,
                  Self.fillsSlots(parts, slotSize: slotSize, current: upload.parts) else { return false }
            state.uploads[id] = nil
            return true
        }
        let assembled: String
        if inPlace {
            guard truncate(assembly, off_t(total)) == 0 else {
                try? FileManager.default.removeItem(atPath: uploadDirectory(id))
                throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
            }
            assembled = assembly
        } else {
            assembled = temporaryFile()
            let output = open(assembled, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard output >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            do {
                for part in parts {
                    try FileMover.append(uploadDirectory(id) + "/" + part.dataFile, offset: part.offset ?? 0,
                                         length: part.size, to: output)
                }
                close(output)
            } catch {
                close(output)
                unlink(assembled)
                throw error
            }
            // The upload must still exist (not aborted or completed meanwhile).
            let stillThere = state.withLock { $0.uploads.removeValue(forKey: id) != nil }
            guard stillThere else {
                unlink(assembled)
                throw S3Error.noSuchUpload(id)
            }
        }
        defer { try? FileManager.default.removeItem(atPath: uploadDirectory(id)) }
        return try install(bucket: record.bucket, key: record.key, from: assembled, etag: etag,
                           contentType: record.contentType, metadata: record.metadata, partSizes: parts.map(\.size))
    }

    /// Whether `parts` are 1...N, each still the accepted part in its slot,
    /// all but the last one exactly `slotSize` long.
    private static func fillsSlots(_ parts: [PartRecord], slotSize: Int64, current: [Int: PartRecord]) -> Bool {
        for (index, part) in parts.enumerated() {
            guard part.number == index + 1, part.offset == Int64(index) * slotSize,
                  let accepted = current[part.number], accepted.offset == part.offset, accepted.etag == part.etag,
                  accepted.size == part.size, index == parts.count - 1 || part.size == slotSize else { return false }
        }
        return !parts.isEmpty
    }

    /// Drops upload `id` and its parts.
    func abortUpload(_ id: String) throws {
        let existed = state.withLock { $0.uploads.removeValue(forKey: id) != nil }
        guard existed else { throw S3Error.noSuchUpload(id) }
        try? FileManager.default.removeItem(atPath: uploadDirectory(id))
    }

    /// Scaleway-style upload ids: opaque URL-safe text.
    static func makeUploadID() -> String {
        Hex.encode(SecureRandom.bytes(8)) + "-" + Hex.encode(SecureRandom.bytes(8)) + "-"
            + Hex.encode(SecureRandom.bytes(8)) + "-" + Hex.encode(SecureRandom.bytes(8))
    }

    // MARK: Persistence

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }()

    private func write<T: Encodable>(_ value: T, to path: String) throws {
        try Self.encoder.encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    private func saveBuckets(_ buckets: [String: BucketInfo]) throws {
        try write(buckets.values.sorted { $0.name < $1.name }, to: directory + "/buckets.json")
    }

    private func load() throws {
        let fm = FileManager.default
        var loaded = State()
        if let data = fm.contents(atPath: directory + "/buckets.json") {
            for bucket in try Self.decoder.decode([BucketInfo].self, from: data) { loaded.buckets[bucket.name] = bucket }
        }
        for name in loaded.buckets.keys {
            var objects: [String: ObjectRecord] = [:]
            let metaDirectory = bucketDirectory(name) + "/meta"
            for file in (try? fm.contentsOfDirectory(atPath: metaDirectory)) ?? [] where file.hasSuffix(".json") {
                guard let data = fm.contents(atPath: metaDirectory + "/" + file),
                      let record = try? Self.decoder.decode(ObjectRecord.self, from: data) else {
                    logger.warning("skipping unreadable object metadata \(metaDirectory)/\(file)")
                    continue
                }
                objects[record.key] = record
            }
            loaded.objects[name] = objects
        }
        let multipartDirectory = directory + "/multipart"
        for id in (try? fm.contentsOfDirectory(atPath: multipartDirectory)) ?? [] {
            let dir = multipartDirectory + "/" + id
            guard let data = fm.contents(atPath: dir + "/upload.json"),
                  let record = try? Self.decoder.decode(MultipartRecord.self, from: data) else { continue }
            var parts: [Int: PartRecord] = [:]
            for file in (try? fm.contentsOfDirectory(atPath: dir)) ?? [] where file.hasPrefix("part-") && file.hasSuffix(".json") {
                if let data = fm.contents(atPath: dir + "/" + file),
                   let part = try? Self.decoder.decode(PartRecord.self, from: data) {
                    parts[part.number] = part
                }
            }
            loaded.uploads[id] = Upload(record: record, parts: parts)
        }
        // Leftovers of interrupted writes.
        for file in (try? fm.contentsOfDirectory(atPath: temporaryDirectory)) ?? [] {
            try? fm.removeItem(atPath: temporaryDirectory + "/" + file)
        }
        let final = loaded
        state.withLock { $0 = final }
    }
}
