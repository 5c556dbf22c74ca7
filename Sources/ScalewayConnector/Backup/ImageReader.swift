import Logging
import PluginProtocol

/// Serves `read` calls of one staged image with ranged GETs.
///
/// The image is read in aligned blocks of ``blockSize`` bytes. A block is
/// fetched once and shared by every `read` that falls in it, so Plakar's
/// concurrent workers on the same file cost one GET per block. At most
/// ``maxBlocks`` blocks are held (least recently used evicted), so memory
/// is bounded whatever the image size: 4 x 4 MiB = 16 MiB per open image.
/// A GET cut mid-body resumes from the last byte received (up to
/// ``maxAttempts`` times per block).
///
/// Optimisations of the data path (not measured apart from the rest of the
/// data-path work; together, plugin CPU per GB read stayed at 1.8-1.9 s
/// while the allocator settings cut peak RSS by about 15 MiB):
/// - **No copy of the answer.** A block is held as 1 MiB pages
///   (``pageSize``, Plakar's read size), and a read of exactly one page
///   answers with that page's array itself, which the encoder base64-encodes
///   in place: before, every read copied its bytes out of the block into a
///   fresh array first. Other reads (unaligned, other lengths) answer with
///   the slices of the pages they span (``ReadChunk/pieces``).
/// - **Read-ahead sized by measurement.** After each read the next
///   ``readahead`` blocks are fetched at once, each on its own connection
///   (parallel ranged GETs, like rclone's streams). Deeper was tried: 3
///   blocks ahead in a 5-block budget gave the same CPU per GB and rate
///   (the path is CPU-bound on 2 cores, not waiting on GETs) for 3 MiB more
///   peak RSS. So 2 ahead, in a budget cut from 6 to 4 blocks (24 to
///   16 MiB): the block being read, 2 ahead, and the one before for workers
///   still finishing it. Peak RSS 61.6-62.6 MiB reading a 1 GiB image (66 with
///   3 ahead and 5 blocks, 85 before this work), nothing fetched twice.
/// - **One budget for the whole run.** The readers of a backup share a
///   ``BlockBudget``: read-ahead only while the run's blocks fit in it, so
///   images read side by side share the read-ahead instead of each holding
///   its own 16 MiB.
actor ImageReader {
    static let blockSize: Int64 = 4 << 20
    static let pageSize = 1 << 20
    static let readahead = 2
    static let maxBlocks = 4
    static let maxAttempts = 6

    let store: any ObjectStore
    let bucket: String
    let key: String
    let size: Int64
    let displayPath: String
    /// Shared by the run's readers; every block in ``blocks`` holds one unit.
    let budget: BlockBudget
    private var blocks: [Int64: Task<[[UInt8]], any Error>] = [:]
    private var lastUse: [Int64: UInt64] = [:]
    private var clock: UInt64 = 0
    private(set) var bytesFetched: Int64 = 0
    /// Reads that found their block still being fetched, and how long they
    /// waited for it: the read-ahead's shortfall (logged at the image's end).
    private var starvedReads = 0
    private var starvedTime: Duration = .zero
    private var readsServed = 0
    private let logger = Logger(label: "read")

    init(store: any ObjectStore, bucket: String, key: String, size: Int64, displayPath: String,
         budget: BlockBudget = BlockBudget()) {
        self.budget = budget
        self.store = store
        self.bucket = bucket
        self.key = key
        self.size = size
        self.displayPath = displayPath
    }

    /// Up to `length` bytes at `offset`; empty with `eof` at the end.
    func read(offset: Int64, length: Int) async throws -> ReadChunk {
        guard offset >= 0, length >= 0 else {
            throw PluginError(.invalidInput, "read of \(displayPath) at offset \(offset), length \(length): negative values")
        }
        guard offset <= size else {
            throw PluginError(.invalidInput, "read of \(displayPath) at offset \(offset) is past its end (\(size) bytes)")
        }
        if offset == size || length == 0 { return ReadChunk(bytes: [], eof: offset == size) }
        let end = min(size, offset + Int64(length))
        let first = offset / Self.blockSize
        let last = (end - 1) / Self.blockSize
        defer { for ahead in 1...Self.readahead { _ = startFetch(last + Int64(ahead), demanded: false) } }

        // Exactly one page (aligned start; a full page, or the image's tail):
        // answer with the page itself, no copy.
        let page = Int64(Self.pageSize)
        if offset % page == 0, end - offset == page || (end == size && end - offset < page) {
            let pages = try await timedBlock(first)
            let pageIndex = Int((offset - first * Self.blockSize) / page)
            noteServed(end: end)
            return ReadChunk(bytes: pages[pageIndex], eof: end == size)
        }

        // Any other read: the slices of the pages it spans, encoded from
        // there (no copy into a fresh array, which for reads over 2 MiB was
        // also a fresh mapping, faulted in page by page).
        var pieces: [ArraySlice<UInt8>] = []
        var position = offset
        while position < end {
            let index = position / Self.blockSize
            let pages = try await timedBlock(index)
            let inBlock = Int(position - index * Self.blockSize)
            let pageIndex = inBlock / Self.pageSize
            let start = inBlock - pageIndex * Self.pageSize
            let stop = min(pages[pageIndex].count, start + Int(end - position))
            pieces.append(pages[pageIndex][start..<stop])
            position += Int64(stop - start)
        }
        noteServed(end: end)
        return ReadChunk(pieces: pieces, eof: end == size)
    }

    /// ``block(_:)``, counting the wait when the block was not there yet
    /// (a wait under 200 µs is scheduling, not a starved read).
    private func timedBlock(_ index: Int64) async throws -> [[UInt8]] {
        let start = ContinuousClock.now
        let pages = try await block(index)
        let waited = ContinuousClock.now - start
        if waited > .microseconds(200) {
            starvedReads += 1
            starvedTime += waited
        }
        return pages
    }

    private func noteServed(end: Int64) {
        readsServed += 1
        guard end == size else { return }
        // Read to its end: Plakar reads a file once, so its blocks go back to
        // the run's budget for the images still being read. (A read coming
        // back later fetches again.)
        dropAll()
        logger.info("read \(displayPath) to its end: \(readsServed) reads, \(starvedReads) waited for their block "
            + "(\(starvedTime.milliseconds) ms in all), \(bytesFetched) bytes fetched")
    }

    private func block(_ index: Int64) async throws -> [[UInt8]] {
        let task = startFetch(index, demanded: true)!
        do {
            return try await task.value
        } catch {
            drop(index)
            throw error
        }
    }

    /// Starts (or reuses) the fetch of block `index`; nil past the end, or
    /// for a read-ahead (not `demanded`) block the run's budget has no room for.
    private func startFetch(_ index: Int64, demanded: Bool) -> Task<[[UInt8]], any Error>? {
        guard index >= 0, index * Self.blockSize < size else { return nil }
        if let task = blocks[index] {
            touch(index)
            return task
        }
        evictIfNeeded()
        if demanded {
            // Over the run's budget: keep only this block (the others would
            // be read-ahead or behind; dropping them frees room for the
            // images being read beside this one).
            if budget.reserveDemanded() { dropAll() }
        } else if !budget.reserveAhead() {
            return nil
        }
        touch(index)
        let offset = index * Self.blockSize
        let length = min(Self.blockSize, size - offset)
        let task = Task { [store, bucket, key, displayPath] in
            try await Self.fetch(store: store, bucket: bucket, key: key, offset: offset, length: length,
                                 displayPath: displayPath)
        }
        blocks[index] = task
        bytesFetched += length
        return task
    }

    /// Marks block `index` as the most recently used.
    private func touch(_ index: Int64) {
        clock += 1
        lastUse[index] = clock
    }

    private func evictIfNeeded() {
        while blocks.count >= Self.maxBlocks, let victim = lastUse.min(by: { $0.value < $1.value })?.key {
            drop(victim)
        }
    }

    /// Forgets block `index` and gives its room back (a read awaiting its
    /// fetch still gets the bytes: it holds the task).
    private func drop(_ index: Int64) {
        guard blocks.removeValue(forKey: index) != nil else { return }
        lastUse[index] = nil
        budget.release()
    }

    /// Forgets every block and gives their room back.
    private func dropAll() {
        budget.release(blocks.count)
        blocks = [:]
        lastUse = [:]
    }

    /// Blocks held (for tests).
    var heldBlocks: Int { blocks.count }

    /// Cancels every fetch (close).
    func cancelAll() {
        for task in blocks.values { task.cancel() }
        dropAll()
    }

    /// One block as pages of ``pageSize``, resuming after a cut connection
    /// from the last byte received.
    static func fetch(store: any ObjectStore, bucket: String, key: String, offset: Int64, length: Int64,
                      displayPath: String) async throws -> [[UInt8]] {
        let buffer = PageAccumulator(pageSize: pageSize, limit: Int(length))
        var attempt = 0
        while true {
            let received = Int64(buffer.count)
            if received >= length { break }
            do {
                try await store.getObject(bucket: bucket, key: key, offset: offset + received, length: length - received) {
                    buffer.append($0)
                }
                if Int64(buffer.count) < length {
                    throw CloudError(.transport, message: "response ended after \(Int64(buffer.count) - received) of \(length - received) bytes")
                }
            } catch where CloudFailure.isTransient(error) && attempt + 1 < maxAttempts {
                attempt += 1
                Logger(label: "read").warning("GET \(key) bytes \(offset + Int64(buffer.count))-: \(error); resuming (attempt \(attempt + 1) of \(maxAttempts))")
                try await Task.sleep(for: .milliseconds(100 << min(attempt, 5)))
            } catch {
                throw CloudFailure.map(error, action: "read \(displayPath) (bytes \(offset)-\(offset + length - 1)) from the staging bucket",
                                       permissionSet: PermissionSet.objectsRead)
            }
        }
        return buffer.take()
    }
}
