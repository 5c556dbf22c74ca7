import Foundation

/// glibc `malloc` settings that keep the plugin's resident memory flat.
///
/// The data path allocates and frees MiB-sized buffers all the time: 1.4 MB
/// protocol lines, 1 MiB read-block pages, 8-17 MiB multipart parts. With glibc's
/// defaults two mechanisms make freed buffers stay resident:
/// - the *dynamic mmap threshold*: the first time an mmapped chunk is freed,
///   glibc raises the threshold to its size (up to 32 MiB), so later buffers
///   of that size come from the heap arenas instead of their own mapping;
/// - *one arena per thread* (up to 8 x cores): every curl, Dispatch and
///   cooperative-pool thread that touches such a buffer gets its own heap,
///   and a freed chunk below another arena's top is never given back.
/// Measured on the benchmark: peak RSS 85-91 MiB reading and 103-129 MiB
/// writing with the defaults, against buffer budgets of about 40 MiB.
///
/// The settings, applied once at startup before any buffer exists:
/// - `M_MMAP_THRESHOLD` = 2 MiB, fixed (setting it turns the dynamic
///   threshold off): multipart parts (8 MiB and more) always get their own
///   mapping and go back to the kernel when freed, so they never settle in
///   an arena. The 1-1.4 MiB buffers of every `read` and `write` (read-block
///   pages, protocol lines, decoded chunks) stay below it on purpose: they
///   are allocated and freed thousands of times per GiB, and from the heap
///   they reuse warm memory, where a mapping each would cost an mmap, a
///   munmap (with TLB shootdowns across threads) and 256 page faults per
///   MiB. Measured (1 GiB image, plugin CPU seconds per GB read / written,
///   peak RSS read / write): 256 KiB threshold 3.2-4.5 s read, 6.9 s write,
///   66 / 89 MiB; 2 MiB threshold 1.8-1.9 s read, 4.3 s write, 70 / 92 MiB
///   (same part budget); glibc defaults 1.7-2.7 s read, 7.3 s write,
///   86 / 103 MiB.
/// - `M_ARENA_MAX` = 1: every thread allocates from the main heap instead of
///   up to 8 per core, each with its own slack of freed 1-1.4 MiB buffers.
///   The data path makes few, large allocations, so the shared lock costs
///   nothing measurable: 1 arena against 2 measured 65 / 76 MiB peak RSS
///   read / write against 70 / 78, plugin CPU per GB unchanged (2.07 and
///   4.30 s against 1.99 and 4.82, within the noise of a loaded machine).
/// - `M_TRIM_THRESHOLD` = 8 MiB: free memory at the top of the main heap is
///   returned once 8 MiB accumulates (the default grows with the dynamic
///   mmap threshold, up to 64 MiB). Not less: at 1 MiB every freed 1.4 MB
///   `read` answer at the top was handed back and the next one faulted its
///   pages in again, 88,000-107,000 minor faults per GB read (13% of the
///   plugin's CPU samples in page faults); 4 MiB: 20,500; 8, 16 and 32 MiB:
///   6,700-6,900; plugin CPU per GB read 1.09-1.20 s against 1.53-1.58 in
///   the same runs. Peak RSS reading a 1 GiB image did not move (61.6-62.6
///   MiB at 1, 8, 16 and 32 MiB); writing it cost 1-2.5 MiB (79.0 and 80.2
///   against 77.5 and 77.9 at 1 MiB).
///
/// `MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_` and `MALLOC_TRIM_THRESHOLD_`
/// in the environment win over these values, so they can be tuned or
/// compared without a rebuild.
enum MallocTuning {
    // From glibc's <malloc.h>, which Swift's Glibc module does not import.
    private static let trimThresholdOption: Int32 = -1   // M_TRIM_THRESHOLD
    private static let mmapThresholdOption: Int32 = -3   // M_MMAP_THRESHOLD
    private static let arenaMaxOption: Int32 = -8        // M_ARENA_MAX

    static func apply() {
        typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(dlopen(nil, RTLD_NOW), "mallopt") else { return }  // not glibc
        let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
        let environment = ProcessInfo.processInfo.environment
        if environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = mallopt(mmapThresholdOption, 2 << 20) }
        if environment["MALLOC_ARENA_MAX"] == nil { _ = mallopt(arenaMaxOption, 1) }
        if environment["MALLOC_TRIM_THRESHOLD_"] == nil { _ = mallopt(trimThresholdOption, 8 << 20) }
    }
}
