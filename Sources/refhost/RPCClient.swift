import Foundation
import JSONRPC
import Synchronization

/// An answer from the plugin: the result or the error, with the line it came in.
struct RPCResponse: Sendable {
    /// The raw response line (detached strings point into it).
    var line: [UInt8]
    var result: JSONValue?
    var error: RPCError?
    /// Long escape-free strings left in ``line`` (the base64 of `read`).
    var detached: [DetachedString]

    /// The bytes of the base64 string at `path` (e.g. `["result", "data"]`),
    /// decoded straight from the line when it was detached.
    func base64Member(_ path: [String]) throws -> [UInt8] {
        if let string = detached.first(where: { $0.path == path }) {
            do {
                return try line.withUnsafeBytes { bytes in
                    try Base64.decode(UnsafeRawBufferPointer(rebasing: bytes[string.range]))
                }
            } catch {
                throw RPCError.protocolViolation("\(path.joined(separator: ".")) is not valid base64: \(error)")
            }
        }
        var value: JSONValue? = ["result": result ?? .null]
        for key in path { value = value?[key] }
        guard let text = value?.stringValue else {
            throw RPCError.protocolViolation("the answer has no string \(path.joined(separator: "."))")
        }
        do {
            return try Base64.decode(text)
        } catch {
            throw RPCError.protocolViolation("\(path.joined(separator: ".")) is not valid base64: \(error)")
        }
    }
}

/// A JSON-RPC error answer, or a failure of the exchange itself.
struct RPCError: Error, Sendable, CustomStringConvertible {
    var code: Int
    var message: String
    var data: JSONValue?

    static func protocolViolation(_ message: String) -> RPCError {
        RPCError(code: 0, message: "protocol violation: \(message)")
    }

    static func transport(_ message: String) -> RPCError {
        RPCError(code: 0, message: message)
    }

    var kind: String? { data?["kind"]?.stringValue }

    var description: String {
        var text = message
        if let kind { text = "[\(kind)] " + text }
        if code != 0 { text += " (code \(code))" }
        if let hint = data?["hint"]?.stringValue { text += "; hint: \(hint)" }
        return text
    }
}

/// The host side of the plugin's line-delimited JSON-RPC 2.0.
///
/// Calls block their thread until the answer arrives (or the timeout): the
/// host is a command-line tool whose workers are threads. One reader
/// thread parses every incoming line (long base64 strings are detached, not
/// copied) and hands answers to their callers; notifications go to
/// `onNotification`. Writes of whole lines are serialised so concurrent
/// callers never interleave.
final class RPCClient: Sendable {
    private struct State {
        var pending: [Int64: PendingCall] = [:]
        var nextID: Int64 = 1
        var closedReason: String?
    }

    private let input: Int32
    private let output: Int32
    private let state = Mutex(State())
    private let writeLock = Mutex(())
    private let timeout: Double
    private let onNotification: @Sendable (String, JSONValue) -> Void

    /// Largest line accepted from the plugin (the protocol's 64 MiB plus margin).
    static let maxLineLength = (64 << 20) + (1 << 20)

    init(input: Int32, output: Int32, timeout: Double, onNotification: @escaping @Sendable (String, JSONValue) -> Void) {
        self.input = input
        self.output = output
        self.timeout = timeout
        self.onNotification = onNotification
    }

    /// Starts the reader thread.
    func start() {
        LineReader(fd: output, maxLineLength: Self.maxLineLength).start { [self] event in
            switch event {
            case .line(let line): self.receive(line)
            case .oversized(let count, _): self.failAll("the plugin sent a line of \(count) bytes, over the protocol's limit")
            case .end: self.failAll("the plugin closed its stdout (it exited or crashed: see its stderr above)")
            case .failed(let code): self.failAll("reading the plugin's stdout failed: \(String(cString: strerror(code)))")
            }
        }
    }

    /// A fresh request id.
    func nextID() -> Int64 {
        state.withLock { s in
            defer { s.nextID += 1 }
            return s.nextID
        }
    }

    /// Sends `method` with `params` and waits for the answer.
    func call(_ method: String, _ params: JSONValue) throws(RPCError) -> RPCResponse {
        let id = nextID()
        let line = Self.requestLine(id: id, method: method, params: params)
        return try wait(send(id: id, line: line), method: method)
    }

    /// Sends a request line built by the caller (the data path) whose id is
    /// `id`; returns a ticket to ``wait(_:method:)`` on.
    func send(id: Int64, line: [UInt8]) throws(RPCError) -> Ticket {
        let call = PendingCall()
        let refusal: String? = state.withLock { s in
            if let reason = s.closedReason { return reason }
            s.pending[id] = call
            return nil
        }
        if let refusal { throw .transport(refusal) }
        let failure: Int32? = writeLock.withLock { _ in
            line.withUnsafeBytes { bytes -> Int32? in
                var done = 0
                while done < bytes.count {
                    let n = Foundation.write(input, bytes.baseAddress! + done, bytes.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        return errno
                    }
                    done += n
                }
                return nil
            }
        }
        if let failure {
            _ = state.withLock { $0.pending.removeValue(forKey: id) }
            throw .transport("writing to the plugin's stdin failed: \(String(cString: strerror(failure))) (did it exit?)")
        }
        return Ticket(id: id, call: call)
    }

    /// A request sent and not yet answered.
    struct Ticket: Sendable {
        let id: Int64
        let call: PendingCall
    }

    /// Waits for the answer of `ticket`.
    func wait(_ ticket: Ticket, method: String) throws(RPCError) -> RPCResponse {
        if ticket.call.done.wait(timeout: .now() + timeout) == .timedOut {
            _ = state.withLock { $0.pending.removeValue(forKey: ticket.id) }
            throw .transport("no answer to \(method) (id \(ticket.id)) within \(Int(timeout)) s")
        }
        let result = ticket.call.response.withLock { $0 }!
        let response = try result.get()
        if let error = response.error { throw error }
        return response
    }

    /// `{"jsonrpc":"2.0","id":N,"method":M,"params":P}\n`
    static func requestLine(id: Int64, method: String, params: JSONValue) -> [UInt8] {
        var line = Array("{\"jsonrpc\":\"2.0\",\"id\":\(id),\"method\":".utf8)
        JSONWriter.appendString(method, to: &line)
        line.append(contentsOf: Array(",\"params\":".utf8))
        JSONWriter.append(params, to: &line)
        line.append(contentsOf: Array("}\n".utf8))
        return line
    }

    // MARK: - Incoming

    private func receive(_ line: [UInt8]) {
        let parsed: JSONParser.Result
        do {
            parsed = try JSONParser.parse(line, options: .init(detachStringsLongerThan: 256))
        } catch {
            failAll("the plugin sent a line that is not JSON: \(error)")
            return
        }
        let message = parsed.value
        if let method = message["method"]?.stringValue {
            if message["id"] == nil {
                onNotification(method, message["params"] ?? .null)
            } else {
                failAll("the plugin sent a request (\(method)); hosts do not serve requests")
            }
            return
        }
        guard let id = message["id"]?.int64Value else {
            let error = message["error"].map { JSONWriter.string($0) } ?? "none"
            failAll("the plugin sent an answer without a usable id (error: \(error))")
            return
        }
        guard let call = state.withLock({ $0.pending.removeValue(forKey: id) }) else {
            FileHandle.standardError.write(Data("refhost: ignoring an answer to unknown or timed-out id \(id)\n".utf8))
            return
        }
        var response = RPCResponse(line: line, result: message["result"], error: nil, detached: parsed.detached)
        if let error = message["error"] {
            response.error = RPCError(code: Int(error["code"]?.int64Value ?? 0),
                                      message: error["message"]?.stringValue ?? JSONWriter.string(error),
                                      data: error["data"])
        } else if response.result == nil {
            response.error = .protocolViolation("answer \(id) has neither result nor error")
        }
        call.response.withLock { $0 = .success(response) }
        call.done.signal()
    }

    /// Fails every waiting call and refuses new ones.
    private func failAll(_ reason: String) {
        let calls = state.withLock { s -> [PendingCall] in
            if s.closedReason == nil { s.closedReason = reason }
            defer { s.pending = [:] }
            return Array(s.pending.values)
        }
        for call in calls {
            call.response.withLock { $0 = .failure(.transport(reason)) }
            call.done.signal()
        }
    }
}

/// A request waiting for its answer.
final class PendingCall: Sendable {
    let done = DispatchSemaphore(value: 0)
    let response = Mutex<Result<RPCResponse, RPCError>?>(nil)
}
