import Synchronization

/// Collects the bytes a streaming GET delivers into fixed-size pages.
///
/// A block is kept as separate pages (arrays of ``pageSize`` bytes, the last
/// one shorter) rather than one array, so a `read` that covers exactly one
/// page can answer with that page itself: the array is shared, not copied
/// (see ``ImageReader``). Each page is allocated at its full size once, so
/// filling it never reallocates.
///
/// `@unchecked Sendable`: the pages are only touched under `lock`; the
/// streaming sink may run on the transport's thread.
final class PageAccumulator: @unchecked Sendable {
    private struct State {
        var pages: [[UInt8]] = []
        var count = 0
    }

    let pageSize: Int
    let limit: Int
    private let lock = Mutex(State())

    /// - Parameters:
    ///   - pageSize: bytes per page.
    ///   - limit: the bytes expected in all; anything beyond is dropped.
    init(pageSize: Int, limit: Int) {
        self.pageSize = pageSize
        self.limit = limit
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        lock.withLock { state in
            var offset = 0
            let usable = min(bytes.count, limit - state.count)
            while offset < usable {
                if state.pages.isEmpty || state.pages[state.pages.count - 1].count == pageSize {
                    var page: [UInt8] = []
                    page.reserveCapacity(min(pageSize, limit - state.count))
                    state.pages.append(page)
                }
                let last = state.pages.count - 1
                let taken = min(usable - offset, pageSize - state.pages[last].count)
                state.pages[last].append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + taken)]))
                offset += taken
                state.count += taken
            }
        }
    }

    var count: Int { lock.withLock { $0.count } }

    func take() -> [[UInt8]] { lock.withLock { let pages = $0.pages; $0 = State(); return pages } }
}
