/// The scripted faults as the API and control endpoints use them.
///
/// The HTTP server's `FaultInjector` conforms: one set of rules serves the
/// transport faults it applies itself and the asynchronous faults the
/// Instance and Block services apply (`async_error`, `corrupt`).
public protocol FaultRegistry: Sendable {
    @discardableResult func install(_ rule: FaultRule) -> FaultRule
    @discardableResult func remove(id: String) -> Bool
    func clear()
    var rules: [FaultRule] { get }
    var firedCounts: [String: Int] { get }
    func evaluate(service: String, method: String, path: String, actions: Set<FaultRule.Action>) -> FaultRule?
}

extension FaultRule.Action {
    /// The actions the Instance and Block services apply to their operations.
    static let asynchronous: Set<FaultRule.Action> = [.asyncError, .corrupt]
}
extension FaultInjector: FaultRegistry {}
