import Dispatch
import Foundation
import Logging
import Synchronization

/// A JSON-RPC 2.0 server over newline-delimited JSON on two file descriptors.
///
/// The input is read on a dedicated thread by ``LineReader``, parsed there
/// by ``JSONParser`` and dispatched: each request runs as its own `Task`,
/// ordered only as its method's ``ExecutionOrder`` asks, so a slow request
/// never blocks the others and responses can come out of order. Responses
/// and notifications go through one ``OutputChannel``: whole lines, never
/// interleaved.
///
/// Protocol rules implemented here (see `protocol/README.md`):
/// - `-32700` for a line that is not JSON or not UTF-8: id `null`, unless the
///   top-level `id` member had been read completely before the syntax error,
///   in which case that id is echoed (the sourcekit-lsp policy: answer a
///   request whenever its id is known, so the host's call does not hang).
/// - `-32600` for valid JSON that is not a request: not an object, a batch
///   (batches are refused: one request per line), `jsonrpc` not `"2.0"`,
///   `method` missing or not a string, `id` null or not a string/number,
///   `params` not an object/array, an id already in flight, an oversized line
///   (id recovered from the start of the line when possible).
/// - `-32601` for an unknown method; `-32602`/`-32603` come from handlers.
/// - Notifications (no `id`) are never answered. `$/cancelRequest` with
///   params `{"id": …}` cancels that in-flight request's task; the request is
///   still answered, with the cancelled error.
/// - Responses from the host are ignored (this server sends no requests).
public final class JSONRPCConnection: Sendable {
    /// Limits, names and policies of a connection.
    public struct Configuration: Sendable {
        /// The largest accepted line, in bytes (default 64 MiB). Larger lines
        /// are skipped and answered -32600.
        public var maxMessageSize: Int = 64 << 20
        /// Maximum nesting of arrays and objects in a message.
        public var maxDepth: Int = 128
        /// Escape-free strings at least this long inside `params` stay in
        /// the line buffer (see ``DetachedString``).
        public var detachStringsLongerThan: Int = 4096
        /// The cancellation notification's method name.
        public var cancelMethod: String = "$/cancelRequest"
        /// The answer to a cancelled request.
        public var cancelledError = ResponseError(ErrorCode(-32800), "the request was cancelled")
        /// Maps handler errors that are not ``ResponseError``; returning `nil`
        /// falls back to the cancelled error for `CancellationError` and to
        /// -32603 for anything else.
        public var errorMapper: @Sendable (any Error) -> ResponseError? = { _ in nil }
        /// After end of input, how long requests already received may run to
        /// completion before they are cancelled.
        public var endOfInputGrace: Duration = .seconds(30)
        /// After cancelling, how long to wait for tasks to wind down.
        public var cancellationGrace: Duration = .seconds(10)
        /// Bytes of admitted, unanswered requests before the reader pauses.
        public var maxInFlightBytes: Int = 256 << 20
        /// Bytes of responses being produced or waiting to be written before
        /// handlers that reserve room (``IncomingRequest/reserveResponseBytes(_:)``)
        /// wait (default 64 MiB: two 16 MiB `read`s in base64 and a spare).
        /// Large responses that reserved nothing wait here too before they are
        /// queued. A host that does not drain the output therefore holds at
        /// most this much (or one response larger than it) in the plugin.
        public var maxHeldResponseBytes: Int = 64 << 20
        /// Responses up to this size that reserved nothing are queued
        /// without waiting for the response budget (errors, small results).
        public var unbudgetedResponseSize: Int = 64 << 10
        /// Bytes asked of each `read(2)` on the input (tests use tiny values
        /// to split lines at every position).
        public var readChunkSize: Int = 1 << 20
        /// Whether ``run()`` turns SIGTERM and SIGINT into a shutdown.
        /// In-process tests turn it off.
        public var handlesSignals = true

        public init() {}
    }

    private struct Active {
        var id: RequestID
        var task: Task<Void, Never>
        var completion: Completion
    }

    private struct State {
        var active: [UInt64: Active] = [:]
        var seqByID: [RequestID: UInt64] = [:]
        var nextSeq: UInt64 = 0
        var lastBarrier: Completion?
        var laneTails: [String: Completion] = [:]
        var shutdown: ShutdownReason?
        var cancelledAll = false
        var finished: CheckedContinuation<ShutdownReason, Never>?
        var idleWaiters: [UInt64: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiter: UInt64 = 0
        var signalSources: [any DispatchSourceSignal] = []
    }

    public let configuration: Configuration
    /// Where every outgoing line goes.
    public let output: OutputChannel
    private let reader: LineReader
    private let methods: MethodTable
    private let budget: ByteBudget
    private let responseBudget: ResponseBudget
    private let state = Mutex(State())
    private let logger = Logger(label: "rpc")

    /// - Parameters:
    ///   - input: descriptor carrying requests (0 = stdin).
    ///   - output: descriptor for responses and notifications (1 = stdout).
    ///   - methods: the methods served.
    ///   - configuration: limits and policies.
    public init(input: Int32 = 0, output: Int32 = 1, methods: MethodTable, configuration: Configuration = Configuration()) {
        self.configuration = configuration
        self.methods = methods
        self.reader = LineReader(fd: input, maxLineLength: configuration.maxMessageSize, chunkSize: configuration.readChunkSize)
        self.output = OutputChannel(fd: output)
        self.budget = ByteBudget(limit: configuration.maxInFlightBytes)
        self.responseBudget = ResponseBudget(limit: configuration.maxHeldResponseBytes)
        self.output.setOnClosed { [weak self] in self?.beginShutdown(.outputClosed) }
    }

    /// Ignores SIGPIPE so a closed stdout shows up as EPIPE, not death.
    public static func ignoreSIGPIPE() { signal(SIGPIPE, SIG_IGN) }

    /// Serves until end of input, a termination signal or a closed output,
    /// then until in-flight requests are answered or cancelled.
    ///
    /// On SIGTERM, SIGINT or a closed output, in-flight requests are
    /// cancelled at once. On end of input, requests already received may
    /// finish within ``Configuration/endOfInputGrace`` (so a session piped
    /// from a file gets all its answers), then the rest are cancelled.
    ///
    /// - Returns: why serving stopped. The caller then cleans up and calls
    ///   ``OutputChannel/flush()`` before exiting.
    public func run() async -> ShutdownReason {
        JSONRPCConnection.ignoreSIGPIPE()
        return await withCheckedContinuation { (finished: CheckedContinuation<ShutdownReason, Never>) in
            state.withLock { s in
                s.finished = finished
                for sig in configuration.handlesSignals ? [SIGTERM, SIGINT] : [] {
                    signal(sig, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
                    source.setEventHandler { [weak self] in self?.beginShutdown(.signal(sig)) }
                    source.resume()
                    s.signalSources.append(source)
                }
            }
            reader.start { [self] event in self.handle(event) }
        }
    }

    /// Ends the output's writer thread (it writes what is queued first), so
    /// a connection dropped without ``OutputChannel/close()`` still releases it.
    deinit { output.finish() }

    /// Sends a notification to the host (never waits).
    public func notify(_ method: String, _ params: JSONValue) {
        let line = MessageLine.notification(method: method, params: params)
        logFrame("<-", line)
        output.enqueue(line)
    }

    /// Stops serving as if `reason` happened (e.g. from a test or the host layer).
    public func beginShutdown(_ reason: ShutdownReason) {
        enum Step { case start, escalate, none }
        let step: Step = state.withLock { s in
            if s.shutdown == nil {
                s.shutdown = reason
                return .start
            }
            return reason != .endOfInput && !s.cancelledAll ? .escalate : .none
        }
        switch step {
        case .start:
            logger.debug("shutting down: \(reason)")
            Task { await self.drain(reason) }
        case .escalate:
            logger.debug("\(reason) while draining: cancelling in-flight requests")
            cancelAll()
        case .none:
            break
        }
    }

    /// The number of requests admitted and not yet answered.
    public var inFlightCount: Int { state.withLock { $0.active.count } }

    // MARK: - Input

    private func handle(_ event: LineReader.Event) {
        switch event {
        case let .line(bytes):
            logFrame("->", bytes)
            handle(line: bytes)
        case let .oversized(byteCount, head):
            // The id usually comes before the bulky params: recover it from the head.
            var id: RequestID? = nil
            do throws(JSONParseError) {
                let whole = try JSONParser.parse(head, options: .init(maxDepth: configuration.maxDepth))
                id = whole.value["id"].flatMap(RequestID.init)
            } catch {
                id = error.recoveredID.flatMap(RequestID.init)
            }
            logger.warning("skipped a message of \(byteCount) bytes (limit \(configuration.maxMessageSize))")
            reply(id, ResponseError(.invalidRequest,
                "message of \(byteCount) bytes exceeds the maximum message size of \(configuration.maxMessageSize) bytes; it was skipped (send smaller chunks)",
                data: ["size": .int(byteCount), "max": .int(configuration.maxMessageSize)]))
        case .end:
            beginShutdown(.endOfInput)
        case let .failed(code):
            logger.error("reading stdin failed: errno \(code)")
            beginShutdown(.inputFailed(code))
        }
    }

    private func handle(line: [UInt8]) {
        let parsed: JSONParser.Result
        do throws(JSONParseError) {
            parsed = try JSONParser.parse(line, options: .init(maxDepth: configuration.maxDepth,
                                                               detachStringsLongerThan: configuration.detachStringsLongerThan,
                                                               detachOnlyInside: ["params"]))
        } catch {
            reply(error.recoveredID.flatMap(RequestID.init),
                  ResponseError(.parseError, "parse error: \(error.message) at byte \(error.offset); send one JSON object per line",
                                data: ["offset": .int(error.offset)]))
            return
        }
        let message = parsed.value
        guard case .object = message else {
            if case .array = message {
                reply(nil, ResponseError(.invalidRequest, "batch requests are not supported: send one request object per line"))
            } else {
                reply(nil, ResponseError(.invalidRequest, "invalid request: expected a JSON object, got \(message.typeName)"))
            }
            return
        }
        let rawID = message["id"]
        let id = rawID.flatMap(RequestID.init)
        guard message["jsonrpc"]?.stringValue == "2.0" else {
            reply(id, ResponseError(.invalidRequest, "invalid request: \"jsonrpc\" must be the string \"2.0\""))
            return
        }
        guard let methodValue = message["method"] else {
            if message["result"] != nil || message["error"] != nil {
                logger.warning("ignored a response from the host: this plugin sends no requests")
            } else {
                reply(id, ResponseError(.invalidRequest, "invalid request: \"method\" is missing"))
            }
            return
        }
        guard let method = methodValue.stringValue else {
            reply(id, ResponseError(.invalidRequest, "invalid request: \"method\" must be a string, got \(methodValue.typeName)"))
            return
        }
        if let rawID, id == nil {
            reply(nil, ResponseError(.invalidRequest, "invalid request: \"id\" must be a string or a number, got \(rawID.typeName)"))
            return
        }
        let params = message["params"]
        if let params {
            switch params {
            case .object, .array: break
            default:
                reply(id, ResponseError(.invalidRequest, "invalid request: \"params\" must be an object or an array, got \(params.typeName)"))
                return
            }
        }
        guard let id else {
            handleNotification(method, params)
            return
        }
        guard let entry = methods.methods[method] else {
            reply(id, ResponseError(.methodNotFound,
                "method \"\(method)\" not found; this plugin serves: \(methods.methodNames.joined(separator: ", "))",
                data: ["method": .string(method)]))
            return
        }
        let reservation = ResponseReservation(budget: responseBudget, id: id, logger: logger)
        dispatch(IncomingRequest(id: id, method: method, params: params, line: line, detached: parsed.detached,
                                 reservation: reservation), entry)
    }

    private func handleNotification(_ method: String, _ params: JSONValue?) {
        if method == configuration.cancelMethod {
            guard let target = params?["id"].flatMap(RequestID.init) else {
                logger.warning("\(method) without a string or number \"id\": ignored")
                return
            }
            let task: Task<Void, Never>? = state.withLock { s in
                s.seqByID[target].flatMap { s.active[$0]?.task }
            }
            if let task {
                logger.debug("cancelling request \(target)")
                task.cancel()
            } else {
                logger.debug("\(method) for \(target), which is not in flight: ignored")
            }
            return
        }
        if let handler = methods.notifications[method] {
            handler(Params(params))
        } else {
            logger.debug("ignored notification \"\(method)\"")
        }
    }

    private func dispatch(_ request: IncomingRequest, _ entry: MethodTable.Entry) {
        let size = request.byteCount
        budget.acquire(size)
        let rejection: ResponseError? = state.withLock { s in
            if s.shutdown != nil, s.cancelledAll || s.shutdown != .endOfInput {
                var error = configuration.cancelledError
                error.message = "the plugin is shutting down; request not started"
                return error
            }
            if s.seqByID[request.id] != nil {
                return ResponseError(.invalidRequest, "invalid request: id \(request.id) is already used by a request in flight; use a fresh id")
            }
            let seq = s.nextSeq
            s.nextSeq += 1
            var dependencies: [Completion] = []
            switch entry.order {
            case .concurrent:
                if let barrier = s.lastBarrier { dependencies.append(barrier) }
            case let .serial(lane), let .after(lane):
                if let barrier = s.lastBarrier { dependencies.append(barrier) }
                if let tail = s.laneTails[lane] { dependencies.append(tail) }
            case .barrier:
                dependencies = s.active.values.map(\.completion)
            }
            let completion = Completion()
            let task = Task { [self] in
                await self.execute(request, entry.handler, after: dependencies)
                completion.complete()
                self.finish(seq, id: request.id, size: size)
            }
            s.active[seq] = Active(id: request.id, task: task, completion: completion)
            s.seqByID[request.id] = seq
            switch entry.order {
            case .concurrent, .after: break
            case let .serial(lane): s.laneTails[lane] = completion
            case .barrier: s.lastBarrier = completion
            }
            if s.cancelledAll { task.cancel() }
            return nil
        }
        if let rejection {
            budget.release(size)
            reply(request.id, rejection)
        }
    }

    private func execute(_ request: IncomingRequest, _ handler: MethodTable.Handler, after dependencies: [Completion]) async {
        for dependency in dependencies where !Task.isCancelled { await dependency.wait() }
        var line: [UInt8]
        if Task.isCancelled {
            line = MessageLine.error(id: request.id, configuration.cancelledError)
        } else {
            do {
                switch try await handler(request) {
                case let .value(value): line = MessageLine.result(id: request.id, value)
                case let .preEncoded(value): line = MessageLine.result(id: request.id, value)
                }
            } catch {
                var mapped = map(error)
                if Task.isCancelled && mapped.code != configuration.cancelledError.code {
                    mapped = configuration.cancelledError
                }
                line = MessageLine.error(id: request.id, mapped)
            }
        }
        if let reservation = request.reservation {
            // A large response that reserved less than it needs waits for the
            // rest before it is queued; one cancelled meanwhile is dropped.
            if line.count > max(reservation.heldBytes, configuration.unbudgetedResponseSize) {
                do {
                    try await reservation.reserve(atLeast: line.count)
                } catch {
                    line = MessageLine.error(id: request.id, configuration.cancelledError)
                }
            }
        }
        logFrame("<-", line)
        await output.send(line)
        request.reservation?.releaseAll()
    }

    private func map(_ error: any Error) -> ResponseError {
        if let error = error as? ResponseError { return error }
        if let mapped = configuration.errorMapper(error) { return mapped }
        if error is CancellationError { return configuration.cancelledError }
        logger.error("internal error: \(error)")
        return ResponseError(.internalError, "internal error: \(error)")
    }

    private func finish(_ seq: UInt64, id: RequestID, size: Int) {
        let waiters: [CheckedContinuation<Bool, Never>] = state.withLock { s in
            s.active[seq] = nil
            if s.seqByID[id] == seq { s.seqByID[id] = nil }
            guard s.active.isEmpty else { return [] }
            let waiters = Array(s.idleWaiters.values)
            s.idleWaiters.removeAll()
            return waiters
        }
        budget.release(size)
        for waiter in waiters { waiter.resume(returning: true) }
    }

    private func reply(_ id: RequestID?, _ error: ResponseError) {
        let line = MessageLine.error(id: id, error)
        logFrame("<-", line)
        output.enqueue(line)
    }

    // MARK: - Shutdown

    private func drain(_ reason: ShutdownReason) async {
        if reason == .endOfInput {
            if await waitUntilIdle(timeout: configuration.endOfInputGrace) == false {
                logger.warning("requests still running \(configuration.endOfInputGrace) after end of input: cancelling them")
            }
        }
        cancelAll()
        if await waitUntilIdle(timeout: configuration.cancellationGrace) == false {
            logger.warning("\(inFlightCount) cancelled request(s) did not finish within \(configuration.cancellationGrace)")
        }
        let finished = state.withLock { s in
            defer { s.finished = nil }
            return s.finished
        }
        finished?.resume(returning: reason)
    }

    private func cancelAll() {
        let tasks = state.withLock { s in
            s.cancelledAll = true
            return s.active.values.map(\.task)
        }
        for task in tasks { task.cancel() }
    }

    /// Waits until no request is in flight, or `timeout` elapses.
    /// - Returns: `true` when idle.
    private func waitUntilIdle(timeout: Duration) async -> Bool {
        await withCheckedContinuation { (waiter: CheckedContinuation<Bool, Never>) in
            let token: UInt64? = state.withLock { s in
                if s.active.isEmpty { return nil }
                let token = s.nextWaiter
                s.nextWaiter += 1
                s.idleWaiters[token] = waiter
                return token
            }
            guard let token else {
                waiter.resume(returning: true)
                return
            }
            Task {
                try? await Task.sleep(for: timeout)
                let expired = self.state.withLock { s in s.idleWaiters.removeValue(forKey: token) }
                expired?.resume(returning: false)
            }
        }
    }

    private func logFrame(_ direction: String, _ line: [UInt8]) {
        guard logger.isEnabled(.trace) else { return }
        // Frames carry credentials (open's config): never log them verbatim.
        logger.trace("\(direction) \(FrameRedactor.loggable(line))")
    }
}
