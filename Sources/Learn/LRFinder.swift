import Foundation
import Torch
import Vision

/// The result of the learning-rate range test.
public struct LRFinderResult: Codable, Sendable {
    public var rates: [Double]
    /// Smoothed losses (exponential moving average, bias-corrected), finite only.
    public var losses: [Double]
    /// fastai's "valley" rule: the middle of the longest stretch of decreasing loss.
    public var valley: Double
    /// The rate where the smoothed loss falls fastest.
    public var steepest: Double
    /// A tenth of the rate where the smoothed loss is lowest (fastai v1's rule, fastai 2's `minimum`): one
    /// order of magnitude below where training starts to go wrong. What `--lr auto` trains the head with.
    public var minimum: Double

    public init(rates: [Double], losses: [Double], valley: Double, steepest: Double, minimum: Double? = nil) {
        (self.rates, self.losses, self.valley, self.steepest) = (rates, losses, valley, steepest)
        self.minimum = minimum ?? Self.minimum(rates, losses)
    }

    /// A tenth of the rate at the lowest loss.
    static func minimum(_ rates: [Double], _ losses: [Double]) -> Double {
        guard let best = losses.indices.min(by: { losses[$0] < losses[$1] }) else { return rates.first ?? 1e-3 }
        return rates[best] / 10
    }
}

extension Learner {
    /// The learning-rate range test: rates grow geometrically from `start` to `end` over at most
    /// `steps` batches while the smoothed loss is recorded; it stops once the loss exceeds 4× its best
    /// or turns NaN. Weights, optimizer state and BatchNorm statistics are restored afterwards.
    public func findLearningRate(start: Double = 1e-7, end: Double = 10, steps: Int = 100) throws -> LRFinderResult {
        let probe = LRFinderProbe(ramp: Schedules.exponential(start, end), steps: max(2, steps))
        try restoringState {
            verbose = false
            valid = nil
            let epochs = Int((Double(probe.steps) / Double(max(1, train.batchCount))).rounded(.up))
            try fit(epochs: max(1, epochs), extra: [probe])
        }
        // Drop a last point taken after divergence began.
        var rates = probe.rates, losses = probe.losses
        while losses.count > 2, let last = losses.last, last > 4 * probe.best {
            losses.removeLast()
            rates.removeLast()
        }
        guard losses.count >= 3 else {
            throw LearnError("the LR finder got fewer than 3 usable steps (loss diverged at once); check the data")
        }
        return LRFinderResult(
            rates: rates, losses: losses, valley: Self.valley(rates, losses),
            steepest: Self.steepest(rates, losses))
    }

    /// Runs `body`, then puts back everything a trial fit changes (weights and BatchNorm statistics,
    /// optimizer state, base rates, epoch count, history, verbosity, validation data), also when `body` throws.
    func restoringState(_ body: () throws -> Void) throws {
        let savedModel = try model.stateDict().mapValues { try $0.clone().detached() }
        let savedOptimizer = try optimizer.stateTensors().mapValues { try $0.clone() }
        let (savedRates, savedEpochsDone, wasVerbose, savedValid) = (baseRates, epochsDone, verbose, valid)
        let (savedSteps, savedEpochs) = (recorder.steps, recorder.epochs)
        func restore() throws {
            (baseRates, epochsDone, verbose, valid) = (savedRates, savedEpochsDone, wasVerbose, savedValid)
            recorder.restore(steps: savedSteps, epochs: savedEpochs)
            try model.load(savedModel)
            try optimizer.loadStateTensors(savedOptimizer)
        }
        do {
            try body()
        } catch {
            // The body's error is the one to report; a failure to restore after it would only hide it.
            try? restore()
            throw error
        }
        try restore()
    }

    static func valley(_ rates: [Double], _ losses: [Double]) -> Double {
        let n = losses.count
        var lengths = [Int](repeating: 1, count: n)
        var maxStart = 0, maxEnd = 0
        for i in 1..<n {
            for j in 0..<i where losses[i] < losses[j] && lengths[i] < lengths[j] + 1 { lengths[i] = lengths[j] + 1 }
            if lengths[maxEnd] < lengths[i] {
                maxEnd = i
                maxStart = maxEnd - lengths[maxEnd]
            }
        }
        let sections = Double(maxEnd - maxStart) / 3
        let index = min(n - 1, max(0, maxStart + Int(sections) + Int(sections / 2)))
        return rates[index]
    }

    /// The rate of the steepest fall, skipping the first tenth of the curve, where the smoothed loss
    /// is still mostly the first batches' noise (fastai v1 skips the first 10 of 100 points the same way).
    static func steepest(_ rates: [Double], _ losses: [Double]) -> Double {
        let first = max(1, min(losses.count / 10, losses.count - 2))
        var best = first, slope = Double.infinity
        for i in first..<(losses.count - 1) {
            let s = (losses[i + 1] - losses[i - 1]) / (log(rates[i + 1]) - log(rates[i - 1]))
            if s < slope {
                slope = s
                best = i
            }
        }
        return rates[best]
    }
}

/// Drives the LR finder: sets the ramped rate before each batch, records the smoothed loss after it,
/// and stops at divergence (loss above 4× its best, or NaN) or after `steps` batches.
final class LRFinderProbe: Callback {
    let ramp: Schedule
    let steps: Int
    var rates: [Double] = [], losses: [Double] = []
    var best = Double.infinity
    private var average = 0.0
    private var step = 0

    init(ramp: @escaping Schedule, steps: Int) {
        self.ramp = ramp
        self.steps = steps
    }

    func beforeBatch(_ learner: Learner) throws {
        let rate = ramp(Double(step) / Double(steps - 1))
        for g in learner.optimizer.groups.indices { learner.optimizer.groups[g].learningRate = rate }
    }

    func afterLoss(_ learner: Learner) throws {
        guard let value = try learner.loss?.item() else { return }
        let rate = ramp(Double(step) / Double(steps - 1))
        step += 1
        guard value.isFinite else { throw CancelFit() }
        average = 0.98 * average + 0.02 * value
        let smoothed = average / (1 - pow(0.98, Double(step)))
        rates.append(rate)
        losses.append(smoothed)
        best = min(best, smoothed)
        if smoothed > 4 * best || step >= steps { throw CancelFit() }
    }
}

extension Classifier {
    /// The LR finder on the new head, the fast way (fastai 0.7's `precompute=True`): pooled body
    /// activations of `loader`'s images are computed once (cached under `cacheKey`), and the range
    /// test trains only the head's layers after pooling on them.
    public func findHeadLearningRate(
        _ loader: DataLoader, cacheKey: String? = nil, mixedPrecision: Bool = false,
        seed: UInt64 = 42, task: any ClassificationTask = SingleLabelTask()
    ) throws -> LRFinderResult {
        let features = try precompute(
            loader, cacheKey: cacheKey, label: "precompute train", mixedPrecision: mixedPrecision)
        return try findHeadLearningRate(features: features.features, labels: features.labels, seed: seed, task: task)
    }

    /// The LR finder on the new head, on pooled activations already computed.
    public func findHeadLearningRate(
        features: Tensor, labels: Tensor, seed: UInt64 = 42, task: any ClassificationTask = SingleLabelTask()
    ) throws -> LRFinderResult {
        let tail = headAfterPooling
        let probe = Learner(
            model: tail, groups: [[tail]], train: FeatureBatches(features: features, labels: labels, seed: seed),
            valid: nil, task: task)
        return try probe.findLearningRate()
    }
}
