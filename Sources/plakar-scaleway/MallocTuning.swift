import Foundation

/// glibc `malloc` settings that keep the plugin's resident memory flat.
///
/// The data path allocates and frees MiB-sized buffers all the time: 1.4 MB
/// protocol lines, 4 MiB read blocks, 8-17 MiB multipart parts. With glibc's
/// defaults two mechanisms make freed buffers stay resident:
/// - the *dynamic mmap threshold*: the first time an mmapped chunk is freed,
///   glibc raises the threshold to its size (up to 32 MiB), so later buffers
///   of that size come from the heap arenas instead of their own mapping;
/// - *one arena per thread* (up to 8 x cores): every curl, Dispatch and
///   cooperative-pool thread that touches such a buffer gets its own heap,
///   and a freed chunk below another arena's top is never given back.
/// Measured on the benchmark (1 GiB image): peak RSS 85-91 MiB reading and
/// 107-129 MiB writing with the defaults, against budgets of about 40 MiB.
///
/// The settings, applied once at startup before any buffer exists:
/// - `M_MMAP_THRESHOLD` = 256 KiB, fixed: every buffer of 256 KiB or more gets
///   its own mapping and goes back to the kernel the moment it is freed, so
///   the peak is the buffers alive at once, not the history. Setting it also
///   turns the dynamic threshold off. The price is an mmap/munmap pair and
///   the page faults per big buffer, which the data path keeps rare by
///   reusing its part buffers (`MultipartStream`).
/// - `M_ARENA_MAX` = 2 (one per core here): small allocations from many
///   threads share two heaps instead of up to 16, each with its own slack.
/// - `M_TRIM_THRESHOLD` = 1 MiB: free memory at the top of the main heap is
///   returned once 1 MiB accumulates (default 128 KiB, but dynamic: it grows
///   with the mmap threshold, which is now fixed).
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
        if environment["MALLOC_MMAP_THRESHOLD_"] == nil { _ = mallopt(mmapThresholdOption, 256 << 10) }
        if environment["MALLOC_ARENA_MAX"] == nil { _ = mallopt(arenaMaxOption, 2) }
        if environment["MALLOC_TRIM_THRESHOLD_"] == nil { _ = mallopt(trimThresholdOption, 1 << 20) }
    }
}
