import Synchronization

/// The blocks every ``ImageReader`` of one backup may hold together.
///
/// Plakar reads several files at once (up to its `max_concurrency`), so a
/// per-image bound alone lets the plugin's memory grow with the number of
/// volumes: 3 images read side by side held 12 blocks (48 MiB) and the
/// backup peaked at 87 MiB. The readers of a run therefore share one budget
/// of ``capacity`` blocks:
/// - a block fetched ahead of the reads (read-ahead) is started only when
///   the budget has room for it (``reserveAhead()``);
/// - a block a read is waiting for is always fetched (``reserveDemanded()``),
///   even over the budget, so that no read ever waits for another image's
///   reader to let go; a reader that finds the budget overdrawn keeps only
///   that block (it drops the others it holds, which costs at worst a
///   second GET of a block if a read comes back to it).
///
/// So the blocks held stay within ``capacity`` while it has room, and over
/// it by at most one block per image being read at that moment. One image
/// read alone gets the same blocks as before (the block being read, two
/// ahead, the one before); several images share the read-ahead.
final class BlockBudget: Sendable {
    /// Blocks the run's readers may hold together before read-ahead stops.
    let capacity: Int
    private let held = Mutex(0)

    /// Six 4 MiB blocks: one image's four, and room for two more images'
    /// current blocks before read-ahead is rationed.
    static let defaultCapacity = 6

    init(capacity: Int = BlockBudget.defaultCapacity) {
        precondition(capacity >= 1)
        self.capacity = capacity
    }

    /// Blocks held now, by every reader of the run.
    var heldBlocks: Int { held.withLock { $0 } }

    /// Takes room for a read-ahead block; false (nothing taken) when the
    /// budget is spent.
    func reserveAhead() -> Bool {
        held.withLock { held in
            guard held < capacity else { return false }
            held += 1
            return true
        }
    }

    /// Takes room for a block a read waits for, over the budget if need be.
    /// - Returns: whether the budget is now overdrawn (the caller should
    ///   drop the other blocks it holds).
    func reserveDemanded() -> Bool {
        held.withLock { held in
            held += 1
            return held > capacity
        }
    }

    /// Gives back the room of `count` blocks dropped.
    func release(_ count: Int = 1) {
        guard count > 0 else { return }
        held.withLock { held in
            precondition(held >= count, "released more blocks than were reserved")
            held -= count
        }
    }
}
