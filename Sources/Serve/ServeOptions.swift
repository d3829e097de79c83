import Foundation

/// How `quadrat serve` listens and batches.
public struct ServeOptions: Sendable {
    /// Loopback unless told otherwise: a model server is not for the whole network by default.
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests); the bound one is reported through `onListening`.
    public var port = 8080
    /// Images per forward pass at most.
    public var maxBatch = 8
    /// Inference workers, each with its share of the cores (see ``InferenceQueue``): one per core by default, up to 8.
    /// On a 2-core AMD EPYC (Zen 4) two single-threaded workers served 32 clients 1.2–1.3× as fast as one worker on
    /// both cores (INT8 214–237 against 170–194 req/s, fp32 100 against 81), and a lone client no slower. On a GPU:
    /// one.
    public var workers = min(8, ProcessInfo.processInfo.activeProcessorCount)
    /// How long the first request of a batch waits for others to join it.
    public var maxWaitMilliseconds = 5
    /// Requests waiting for inference at most; more get 503 with Retry-After.
    public var queueLimit = 256
    /// Request bodies larger than this get 413.
    public var maxBodyBytes = 20 * 1024 * 1024
    /// A request still waiting for inference after this long gets 503.
    public var timeoutSeconds = 30.0
    /// Bearer token required on every route but /healthz (nil: no authentication).
    public var token: String?
    /// Open connections at most: more wait in the listen backlog until one closes (a client opening many cannot
    /// take every file descriptor).
    public var maxConnections = 256
    /// Seconds a connection may stay idle (no bytes from the client) before it is closed.
    public var idleSeconds = 30.0
    /// bfloat16 autocast for inference (what `train` measured on this machine).
    public var mixedPrecision = false
    /// The body in INT8 (`--precision int8`), with the calibration beside the model.
    public var int8 = false

    public init() {}

    /// Checks every number, naming the flag.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw ServeError.badOption(message) } }
        try check((0...65535).contains(port), "--port must be between 0 and 65535, not \(port)")
        try check((1...1024).contains(maxBatch), "--max-batch must be between 1 and 1024, not \(maxBatch)")
        try check(
            (0...10_000).contains(maxWaitMilliseconds),
            "--max-wait-ms must be between 0 and 10000, not \(maxWaitMilliseconds)")
        try check((1...256).contains(workers), "--workers must be between 1 and 256, not \(workers)")
        try check(queueLimit >= 1, "--queue-limit must be at least 1, not \(queueLimit)")
        try check(maxBodyBytes >= 1024, "--max-body must be at least 1024 bytes, not \(maxBodyBytes)")
        try check(timeoutSeconds > 0, "--timeout must be above 0 seconds, not \(timeoutSeconds)")
        try check(token.map { !$0.isEmpty } ?? true, "--token must not be empty")
        try check(
            (1...100_000).contains(maxConnections),
            "--max-connections must be between 1 and 100000, not \(maxConnections)")
        try check(
            (1...3600).contains(idleSeconds), "--idle-timeout must be between 1 and 3600 seconds, not \(idleSeconds)")
    }
}

/// What goes wrong in serving, each with the HTTP status it becomes.
public enum ServeError: Error, CustomStringConvertible, Equatable {
    case badOption(String)
    /// The inference queue is full.
    case busy
    /// The request waited longer than the timeout.
    case timedOut
    case stopping

    public var description: String {
        switch self {
        case .badOption(let message): return message
        case .busy: return "the inference queue is full; retry shortly"
        case .timedOut: return "the request waited too long for inference"
        case .stopping: return "the server is shutting down"
        }
    }
}
