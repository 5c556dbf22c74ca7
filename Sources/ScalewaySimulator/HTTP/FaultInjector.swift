import Foundation
import Synchronization

/// Holds the scripted faults of a simulator run and decides, request by
/// request, which one fires.
///
/// Rules come from the seed file or from the control endpoint
/// (`POST /_sim/faults`). Decisions are reproducible: a rule's n-th matching
/// request fires or not as a pure function of the rule (`skip`, `count`,
/// `probability`, `seed`) and n, so the same scenario replays identically.
///
/// The HTTP server consults it for the transport-level actions
/// (``FaultRule/Action/rateLimit``, ``FaultRule/Action/status``,
/// ``FaultRule/Action/reset``, ``FaultRule/Action/stall``); the API services
/// consult it for ``FaultRule/Action/asyncError`` and
/// ``FaultRule/Action/corrupt``. Thread-safe.
public final class FaultInjector: Sendable {
    /// The transport-level actions the HTTP server applies itself.
    public static let transportActions: Set<FaultRule.Action> = [.rateLimit, .status, .reset, .stall]

    private struct Entry {
        var rule: FaultRule
        /// How many requests matched the rule so far.
        var matched = 0
        /// How many times it fired.
        var fired = 0
    }

    private struct State {
        var entries: [Entry] = []
        var nextID = 1
    }

    private let state = Mutex(State())

    public init(rules: [FaultRule] = []) {
        for rule in rules { install(rule) }
    }

    /// Adds `rule`; a rule without an id gets `fault-N`. Installing a rule
    /// with the id of an existing one replaces it (and resets its counters).
    /// - Returns: the rule as stored (with its id).
    @discardableResult
    public func install(_ rule: FaultRule) -> FaultRule {
        state.withLock { state in
            var stored = rule
            if stored.id == nil || stored.id?.isEmpty == true {
                stored.id = "fault-\(state.nextID)"
                state.nextID += 1
            }
            state.entries.removeAll { $0.rule.id == stored.id }
            state.entries.append(Entry(rule: stored))
            return stored
        }
    }

    /// Removes the rule called `id`; returns whether it existed.
    @discardableResult
    public func remove(id: String) -> Bool {
        state.withLock { state in
            let before = state.entries.count
            state.entries.removeAll { $0.rule.id == id }
            return state.entries.count != before
        }
    }

    /// Removes every rule.
    public func clear() { state.withLock { $0.entries.removeAll() } }

    /// The installed rules, in installation order.
    public var rules: [FaultRule] { state.withLock { $0.entries.map(\.rule) } }

    /// How often each rule has fired so far, by id.
    public var firedCounts: [String: Int] {
        state.withLock { state in
            Dictionary(state.entries.map { ($0.rule.id ?? "", $0.fired) }, uniquingKeysWith: { a, _ in a })
        }
    }

    /// Finds the fault to apply to one request, counting the request against
    /// every rule it matches.
    ///
    /// - Parameters:
    ///   - service: `api` or `s3` (rules with service `any` match both).
    ///   - method: the HTTP method (rules match it case-insensitively).
    ///   - path: the decoded request path.
    ///   - actions: only rules with one of these actions are considered.
    /// - Returns: the first rule that fires, or `nil`.
    public func evaluate(service: String, method: String, path: String,
                         actions: Set<FaultRule.Action>) -> FaultRule? {
        state.withLock { state in
            var chosen: FaultRule?
            for index in state.entries.indices {
                let rule = state.entries[index].rule
                guard actions.contains(rule.action), Self.matches(rule, service: service, method: method, path: path)
                else { continue }
                let n = state.entries[index].matched
                state.entries[index].matched += 1
                guard chosen == nil, Self.fires(rule, matchIndex: n, firedSoFar: state.entries[index].fired)
                else { continue }
                state.entries[index].fired += 1
                chosen = rule
            }
            return chosen
        }
    }

    static func matches(_ rule: FaultRule, service: String, method: String, path: String) -> Bool {
        if rule.service != "any" && rule.service != service { return false }
        if let m = rule.method, m.caseInsensitiveCompare(method) != .orderedSame { return false }
        if let fragment = rule.pathContains, !fragment.isEmpty, !path.contains(fragment) { return false }
        return true
    }

    static func fires(_ rule: FaultRule, matchIndex n: Int, firedSoFar: Int) -> Bool {
        guard n >= rule.skip else { return false }
        if let probability = rule.probability {
            if let count = rule.count, firedSoFar >= count { return false }
            return unitInterval(seed: rule.seed ?? 0, index: UInt64(n)) < probability
        }
        if let count = rule.count { return n < rule.skip + count }
        return true
    }

    /// A reproducible draw in [0, 1) for the `index`-th match (SplitMix64).
    static func unitInterval(seed: UInt64, index: UInt64) -> Double {
        var z = seed &+ (index &+ 1) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z = z ^ (z >> 31)
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }
}
