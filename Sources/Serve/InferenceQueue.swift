import Foundation
import Learn
import Torch

/// Requests wait here for the inference workers, which take them in dynamic micro-batches: the first request of a
/// batch waits at most `maxWait` for others to join, up to `maxBatch` in one forward pass. The queue is bounded (a
/// full queue refuses at once, so the server can answer 503) and a request that waited past the timeout is answered
/// with an error instead of being run.
///
/// `workers` threads share the model's weights, each running its own batches on its share of the cores (libtorch's
/// thread count is per thread). One worker on every core answers a lone request soonest; one single-threaded
/// worker per core serves many clients best, because the photos' decoding shares the cores with inference: a
/// pass spread over every core stalls at each layer's barrier whenever a decoding thread takes one of them.
public final class InferenceQueue: @unchecked Sendable {
    /// What happened in one forward pass, for metrics.
    public struct BatchReport: Sendable {
        public var size: Int
        public var seconds: Double
    }

    /// One request's answer: probabilities, the time it waited, the size of its batch and, when asked for, the
    /// Grad-CAM heat map of its top class.
    public struct Answer: Sendable {
        public var probabilities: [Double]
        public var queueSeconds: Double
        public var batchSize: Int
        public var heatMap: GradCAM.Map?
        /// The photo's distance from the training photos and whether it is answered "none of these" (nil when the
        /// model has no unknown threshold beside it).
        public var unknown: (distance: Double, isUnknown: Bool)?
    }

    private struct Job {
        var input: [Float]
        var explain: Bool
        var enqueued: Date
        var done: @Sendable (Result<Answer, Error>) -> Void
    }

    private let model: SavedModel
    /// The model's deployment reference when it has an unknown threshold: every batch is then measured against it.
    private let reference: DriftReference?
    private let options: ServeOptions
    private var jobs: [Job] = []
    private var stopping = false
    /// Workers still running.
    private var running: Int
    private let condition = NSCondition()
    /// Grad-CAM runs a backward pass through the shared head (its gradients are filled, then zeroed): one at a time.
    private let explaining = NSLock()
    private let onBatch: @Sendable (BatchReport) -> Void

    /// `@unchecked Sendable`: `jobs`, `stopping` and `running` are touched only under `condition`; the model's
    /// forward passes keep no state between calls (weights are read, never written, with gradients off), and its
    /// one writer, Grad-CAM, runs under `explaining`.
    public init(model: SavedModel, options: ServeOptions, onBatch: @escaping @Sendable (BatchReport) -> Void = { _ in })
    {
        self.model = model
        // A reference that cannot be read serves without the unknown answer (the server says so at start).
        reference = (try? DriftReference.beside(model)).flatMap { $0?.unknownThreshold == nil ? nil : $0 }
        self.options = options
        self.onBatch = onBatch
        // A GPU runs one batch at a time anyway: more workers would only queue on it.
        let workers = Torch.defaultDevice.isCUDA ? 1 : options.workers
        running = workers
        let threads = max(1, Torch.threads / workers)
        for k in 0..<workers {
            let thread = Thread { [self] in work(threads: threads) }
            thread.name = "inference \(k + 1)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Requests waiting now.
    public var depth: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count
    }

    /// The class probabilities for one prepared input (see ``SavedModel/input(imageBytes:source:)``), with the
    /// time it waited and the size of the batch it ran in; with `explain`, also its Grad-CAM heat map (computed
    /// on the worker after the batch, since it needs a backward pass through the shared model).
    public func predict(_ input: [Float], explain: Bool = false) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            defer { condition.unlock() }
            guard !stopping else { return continuation.resume(throwing: ServeError.stopping) }
            guard jobs.count < options.queueLimit else { return continuation.resume(throwing: ServeError.busy) }
            jobs.append(Job(input: input, explain: explain, enqueued: Date()) { continuation.resume(with: $0) })
            condition.broadcast()
        }
    }

    /// Refuses new requests, finishes those queued, and returns when every worker has stopped.
    public func drain() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private func work(threads: Int) {
        Torch.threads = threads  // this thread's share: libtorch keeps the count per thread
        while let batch = nextBatch() {
            let start = Date()
            let result = Result { try forward(batch) }
            let seconds = Date().timeIntervalSince(start)
            onBatch(BatchReport(size: batch.count, seconds: seconds))
            for (i, job) in batch.enumerated() {
                let waited = start.timeIntervalSince(job.enqueued)
                job.done(
                    result.flatMap { (probabilities, unknown) in
                        Result {
                            let map =
                                job.explain
                                ? try explaining.withLock { try model.gradCAM(inputs: [job.input]) }.first : nil
                            return Answer(
                                probabilities: probabilities[i], queueSeconds: waited, batchSize: batch.count,
                                heatMap: map, unknown: unknown?[i])
                        }
                    })
            }
        }
        condition.lock()
        running -= 1
        condition.broadcast()
        condition.unlock()
    }

    /// One forward pass for the batch: probabilities and, with a reference, each photo's distance and unknown answer.
    private func forward(_ batch: [Job]) throws -> ([[Double]], [(distance: Double, isUnknown: Bool)]?) {
        let (probabilities, features) = try model.probabilitiesAndFeatures(
            inputs: batch.map(\.input), mixedPrecision: options.mixedPrecision, withFeatures: reference != nil)
        guard let reference, let features else { return (probabilities, nil) }
        let distances = try reference.distances(DriftReference.unit(features))
        return (probabilities, zip(distances, reference.unknown(distances)).map { ($0, $1) })
    }

    /// Blocks until there is work; gathers a batch (nil once stopping and empty). Timed-out jobs are answered here.
    private func nextBatch() -> [Job]? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            while jobs.isEmpty && !stopping { condition.wait() }
            if jobs.isEmpty { return nil }
            let deadline = jobs[0].enqueued.addingTimeInterval(Double(options.maxWaitMilliseconds) / 1000)
            while jobs.count < options.maxBatch && !stopping && Date() < deadline {
                _ = condition.wait(until: deadline)
            }
            let now = Date()
            let expired = jobs.filter { now.timeIntervalSince($0.enqueued) > options.timeoutSeconds }
            jobs.removeAll { now.timeIntervalSince($0.enqueued) > options.timeoutSeconds }
            for job in expired { job.done(.failure(ServeError.timedOut)) }
            guard !jobs.isEmpty else { continue }
            let batch = Array(jobs.prefix(options.maxBatch))
            jobs.removeFirst(batch.count)
            return batch
        }
    }
}
