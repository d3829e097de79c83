import Foundation
import NN
import Torch
import Vision

/// Times a few real steps of a learner's model on a synthetic batch: how many images per second it
/// trains and predicts here, in float32 and in bfloat16 autocast. `quadrat train` chooses its precision
/// and plans its epochs from these figures. Weights, optimizer state, BatchNorm statistics and history
/// are restored afterwards. Each figure is the median of the timed steps (``rate(stepSeconds:batchSize:)``).
public enum ThroughputProbe {
    /// Images/s of training steps with the layer groups before `trainableFrom` frozen (their BatchNorm
    /// statistics too when `fixedStatistics`), as the recipe's unfrozen phase trains. The first step is a
    /// warm-up and not timed. `earlyBodyMixedPrecision` runs a classifier's frozen early group under autocast
    /// (``Classifier/earlyBodyMixedPrecision``, which ignores it while that group trains: `trainableFrom` 0).
    public static func training(
        _ learner: Learner, size: Int, batchSize: Int, trainableFrom: Int, fixedStatistics: Bool,
        mixedPrecision: Bool, earlyBodyMixedPrecision: Bool = false, steps: Int = 3
    ) throws -> Double {
        let batch = try syntheticBatch(
            size: size, batchSize: batchSize, classes: try classCount(learner), task: learner.task)
        let timer = StepTimer()
        let (savedTrain, savedMixed, savedUpdates, savedFrozenBN) =
            (learner.train, learner.mixedPrecision, learner.updateBodyBatchNormStatistics, learner.trainFrozenBatchNorm)
        defer {
            (learner.train, learner.mixedPrecision) = (savedTrain, savedMixed)
            (learner.updateBodyBatchNormStatistics, learner.trainFrozenBatchNorm) = (savedUpdates, savedFrozenBN)
        }
        let classifier = learner.model as? Classifier
        let savedEarlyBody = classifier?.earlyBodyMixedPrecision ?? false
        classifier?.earlyBodyMixedPrecision = earlyBodyMixedPrecision
        defer { classifier?.earlyBodyMixedPrecision = savedEarlyBody }
        try learner.restoringState {
            learner.verbose = false
            learner.valid = nil
            learner.train = RepeatedBatch(batch, count: steps + 1)
            learner.mixedPrecision = mixedPrecision
            learner.trainFrozenBatchNorm = false
            learner.updateBodyBatchNormStatistics = !fixedStatistics
            try learner.freeze(upTo: trainableFrom)
            try learner.fit(epochs: 1, rates: [1e-9], extra: [timer])
        }
        // The probe's freezing is not the caller's: back to the learner's starting point, head only.
        try learner.freeze()
        return timer.imagesPerSecond(batchSize: batchSize)
    }

    /// Images/s of evaluation forward passes (no gradients) of `model`, after one warm-up batch.
    public static func inference(
        _ model: Module, size: Int, batchSize: Int, mixedPrecision: Bool, steps: Int = 3
    ) throws -> Double {
        let x = try syntheticBatch(size: size, batchSize: batchSize, classes: 2).inputs
        let wasTraining = model.isTraining
        model.eval()
        defer { if wasTraining { model.train() } }
        // As a model read back runs it (`SavedModel`); the network goes with the probe (the weights train on).
        return try Classifier.evaluatingThroughOneDNN(model) {
            try evaluationRate(batchSize: batchSize, steps: steps) {
                _ = try Torch.withoutGrad { try mixedPrecision ? Torch.withAutocast { try model(x) } : model(x) }
            }
        }
    }

    /// Images/s of `step` (one batch of `batchSize`) over `steps` runs after a warm-up run.
    static func evaluationRate(batchSize: Int, steps: Int, _ step: () throws -> Void) throws -> Double {
        try step()
        try Torch.synchronize()
        var seconds: [Double] = []
        for _ in 0..<steps {
            let start = Date()
            try step()
            // A GPU runs the step after it is queued: its time counts until it is done.
            try Torch.synchronize()
            seconds.append(Date().timeIntervalSince(start))
        }
        return rate(stepSeconds: seconds, batchSize: batchSize)
    }

    /// Images/s of the median step of `batchSize` images, so that one step slowed by something else does not set
    /// the figure that plans every run. 0 for no steps.
    public static func rate(stepSeconds: [Double], batchSize: Int) -> Double {
        guard !stepSeconds.isEmpty else { return 0 }
        return Double(batchSize) / max(stepSeconds.median, 1e-9)
    }

    /// Images/s of `classifier` with its body in INT8, after a warm-up batch. The ranges come from one synthetic batch
    /// (the speed does not depend on them); the classifier itself is left as it was, in float.
    public static func int8Inference(
        _ classifier: Classifier, size: Int, batchSize: Int, steps: Int = 2
    ) throws -> Double {
        let x = try syntheticBatch(size: size, batchSize: batchSize, classes: 2).inputs
        let wasTraining = classifier.isTraining
        classifier.eval()
        defer { if wasTraining { classifier.train() } }
        let (graph, output) = try classifier.bodyGraph(size: size)
        let ranges = try Torch.withoutGrad {
            try ActivationRanges.observe(graph, input: Classifier.graphInput, output: output, batches: [x])
        }
        let int8 = try QuantizedNetwork(graph, input: Classifier.graphInput, output: output, ranges: ranges)
        return try evaluationRate(batchSize: batchSize, steps: steps) {
            _ = try Torch.inferenceMode { try classifier.head(int8(x)) }
        }
    }

    /// A batch of normalised-looking noise, channels-last as the loader makes it, with random labels of `task`.
    static func syntheticBatch(
        size: Int, batchSize: Int, classes: Int, task: any ClassificationTask = SingleLabelTask()
    ) throws -> (inputs: Tensor, targets: Tensor) {
        let x = try Tensor.randn([batchSize, 3, size, size]).contiguous(.channelsLast)
        return (x, try task.randomTargets(count: batchSize, classCount: classes))
    }

    /// The output width of the learner's model, from one tiny forward pass.
    static func classCount(_ learner: Learner) throws -> Int {
        let wasTraining = learner.model.isTraining
        learner.model.eval()
        defer { if wasTraining { learner.model.train() } }
        let out = try Torch.withoutGrad { try learner.model(Tensor.zeros([2, 3, 64, 64]).contiguous(.channelsLast)) }
        return out.shape.last ?? 2
    }
}

/// The same batch `count` times.
final class RepeatedBatch: BatchSource {
    let batch: (inputs: Tensor, targets: Tensor)
    let count: Int
    init(_ batch: (inputs: Tensor, targets: Tensor), count: Int) {
        self.batch = batch
        self.count = count
    }
    var batchCount: Int { count }
    func batches(for epoch: Int) -> AnySequence<(inputs: Tensor, targets: Tensor)> {
        AnySequence(repeatElement(batch, count: count))
    }
}

/// Times training steps: the first is a warm-up; the rate is the median of the others.
final class StepTimer: Callback {
    private var stamps: [Date] = []
    private var start = Date()

    func beforeFit(_ learner: Learner) throws { start = Date() }

    func afterBatch(_ learner: Learner) throws {
        stamps.append(Date())
    }

    func imagesPerSecond(batchSize: Int) -> Double {
        guard let first = stamps.first else { return 0 }
        // One step only (a scout): its own time, warm-up and all; else the steps after the warm-up.
        let seconds =
            stamps.count == 1
            ? [first.timeIntervalSince(start)] : zip(stamps.dropFirst(), stamps).map { $0.timeIntervalSince($1) }
        return ThroughputProbe.rate(stepSeconds: seconds, batchSize: batchSize)
    }
}
