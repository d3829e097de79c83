import Foundation
import NN
import Torch
import Vision

/// The training loop: data, a model split into layer groups, a loss, an optimizer with one
/// parameter group per layer group, metrics and callbacks (fastai's `Learner`).
public final class Learner {
    public let model: Module
    /// Layer groups (early body, late body, head for a ``Classifier``) for freezing and discriminative rates.
    public let groups: [[Module]]
    public var train: BatchSource
    public var valid: BatchSource?
    public var metrics: [Metric]
    public var callbacks: [Callback] = []
    /// What the model is asked: its activation (probabilities from logits) and its default loss.
    public let task: any ClassificationTask
    /// The task's loss unless replaced (class weights, a callback's own term).
    public var lossFunction: (Tensor, Tensor) throws -> Tensor
    /// What made ``optimizer`` (fastai's `opt_func`), kept so that phases which train a part of the model apart
    /// make theirs the same way.
    public let makeOptimizer: OptimizerFactory
    public let optimizer: Optimizer
    /// The module the loop runs forward: ``model``, or a part of it that trains on its own inputs (the head after
    /// pooling, on precomputed activations: ``fitOnFeatures(_:train:valid:rate:cycles:from:)``). Checkpoints, callbacks and
    /// keep-best always see the whole ``model``.
    public internal(set) var network: Module
    public let recorder = Recorder()
    /// Base learning rate of each group; schedules multiply these.
    public var baseRates: [Double]
    /// Run training forward passes with autocast (mixed precision): bfloat16, or float16 with ``gradScaler`` on a
    /// GPU without bfloat16.
    public var mixedPrecision = false
    /// The loss scaler a float16 mixed-precision fit adds to its callbacks; kept between fits, like its scale.
    public let gradScaler = GradScaler()
    /// Run evaluation forward passes (validation, prediction, TTA) with bfloat16 autocast. Chosen apart from
    /// training: on some CPUs bf16 speeds up inference but slows training down.
    public var inferenceMixedPrecision = false
    /// Keep BatchNorm layers in frozen groups trainable (fastai's `train_bn`).
    public var trainFrozenBatchNorm = true
    /// Let the body's BatchNorm layers update their running statistics in training. Off keeps them in
    /// inference mode while their scale and shift still train (Keras's advice for fine-tuning): the head
    /// then keeps seeing the feature statistics it was trained on when the body is unfrozen.
    public var updateBodyBatchNormStatistics = true
    /// Print the per-epoch table and progress bars.
    public var verbose = true
    /// Keep the plain view's pooled body features when predicting (``plainFeatures``), from the same forward pass
    /// as its probabilities. Only a ``Classifier`` predicting in float32 keeps them: they must equal what
    /// ``Classifier/precompute(_:cacheKey:label:mixedPrecision:group:view:)`` computes for the deployment check.
    public var keepsPlainFeatures = false
    /// The plain-view pooled features of the last ``predictionsWithTTA(_:views:augmentation:)``, a row per photo in
    /// the order of its items, when ``keepsPlainFeatures`` and the network allowed it; else nil.
    public internal(set) var plainFeatures: Tensor?
    /// Seeds libtorch's generator before every training batch (dropout), so runs and resumed runs repeat exactly.
    public var seed: UInt64 = 42
    /// Mixed into the per-batch seed: the ranks of data-parallel training set their rank here, so their parts of
    /// a batch get different dropout masks (as the rows of one process's batch do).
    public var randomStream: UInt64 = 0
    /// In data-parallel training, the group whose ranks each predict their part of a sharded source
    /// (``DataLoader/shard``): ``predict(_:epoch:)`` joins the parts, so every rank computes the metrics of the
    /// whole set and takes the same decisions (best epoch, early stopping).
    public var predictionGroup: ProcessGroup?
    /// Saved with checkpoints (architecture, classes, normalisation, size, recipe…).
    public var checkpointMetadata: [String: String] = [:]

    // Loop state, readable by callbacks.
    public private(set) var isTraining = false
    public private(set) var epoch = 0
    public private(set) var epochCount = 0
    public private(set) var batchIndex = 0
    // The batch in training, which callbacks may replace (fastai's open loop): `inputs` and `targets` in
    // `beforeBatch` (MixUp, a crop of their own), `prediction` in `afterPrediction`, `loss` in `afterLoss` (a
    // scaled or extra term); the loop goes on with what they leave.
    public var loss: Tensor?
    public var prediction: Tensor?
    public var inputs: Tensor?
    public var targets: Tensor?
    /// Epochs already trained by this learner (resumes count from here).
    public internal(set) var epochsDone = 0
    private var fitStart = 0
    private var batchesPerEpoch = 1
    /// The callbacks of the fit in progress, sorted by order.
    private var active: [Callback] = []

    /// The current epoch's index within the fit in progress (0 for its first epoch).
    public var epochInFit: Int { epoch - fitStart }

    /// Fraction of the current fit done, in [0, 1).
    public var position: Double {
        (Double(epoch - fitStart) + Double(batchIndex) / Double(max(1, batchesPerEpoch))) / Double(max(1, epochCount))
    }

    public init(
        model: Module, groups: [[Module]], train: BatchSource, valid: BatchSource?, metrics: [Metric] = [.accuracy],
        optimizer makeOptimizer: OptimizerFactory = .adamW(), baseRate: Double = 1e-3,
        task: any ClassificationTask = SingleLabelTask()
    ) {
        self.model = model
        self.task = task
        lossFunction = { try task.loss(weights: nil)($0, $1) }
        network = model
        self.groups = groups
        self.train = train
        self.valid = valid
        self.metrics = metrics
        baseRates = Array(repeating: baseRate, count: groups.count)
        self.makeOptimizer = makeOptimizer
        optimizer = makeOptimizer.make(groups.map { $0.flatMap(\.parameters) }, baseRate)
        for m in metrics { recorder.metricDirections[m.name] = m.higherIsBetter }
    }

    /// A learner for a ``Classifier``: its three layer groups, body frozen.
    public convenience init(
        _ classifier: Classifier, train: BatchSource, valid: BatchSource?, metrics: [Metric] = [.accuracy],
        optimizer: OptimizerFactory = .adamW(), task: any ClassificationTask = SingleLabelTask()
    ) throws {
        self.init(
            model: classifier, groups: classifier.layerGroups, train: train, valid: valid, metrics: metrics,
            optimizer: optimizer, task: task)
        try freeze()
    }

    // MARK: freezing

    /// Trains only the last group.
    public func freeze() throws { try freeze(upTo: groups.count - 1) }
    /// Trains every group.
    public func unfreeze() throws { try freeze(upTo: 0) }

    /// Freezes groups before `n`. BatchNorm layers of frozen groups stay trainable when ``trainFrozenBatchNorm``.
    public func freeze(upTo n: Int) throws {
        for (g, group) in groups.enumerated() {
            let frozen = g < n
            for module in group {
                for (_, sub) in module.namedModules() {
                    let isBN = sub is BatchNorm
                    let trainable = !frozen || (isBN && trainFrozenBatchNorm)
                    for (name, p) in sub.namedParameters() where !name.contains(".") { try p.requiringGrad(trainable) }
                    let isBody = g < groups.count - 1
                    if let bn = sub as? BatchNorm {
                        bn.updatesStatistics =
                            (!frozen || trainFrozenBatchNorm) && (!isBody || updateBodyBatchNormStatistics)
                    }
                }
            }
        }
    }

    // MARK: fitting

    /// Trains for `epochs` epochs; `schedule` (default: constant) scales the base rates. A resumed fit starts at
    /// epoch `from` of the `epochs` (the learner's ``epochsDone`` already counts the ones before it), at the same
    /// point of the schedule, with the same batch order and seeds.
    public func fit(
        epochs: Int, from first: Int = 0, rates: [Double]? = nil, schedule: Schedule? = nil,
        momentum: Schedule? = nil, extra: [Callback] = []
    ) throws {
        if let rates { baseRates = spread(rates) }
        let scheduler = ParameterScheduler(rate: schedule ?? Schedules.constant(1), momentum: momentum)
        let scaling: [Callback] = mixedPrecision && Torch.autocastType == .float16 ? [gradScaler] : []
        active = (callbacks + extra + scaling + [scheduler] + (verbose ? [EpochTable()] : [])).sorted {
            $0.order < $1.order
        }
        defer { active = [] }
        epochCount = epochs
        fitStart = epochsDone - first
        batchesPerEpoch = train.batchCount
        try withEvents(.fit) {
            for e in first..<max(first, epochs) {
                epoch = fitStart + e
                try withEvents(.epoch) { try runEpoch() }
            }
        }
    }

    /// Rates for each group: one for all, one per group, or (first, last) spread geometrically.
    func spread(_ rates: [Double]) -> [Double] {
        let n = groups.count
        if rates.count == n { return rates }
        if rates.count == 1 { return Array(repeating: rates[0], count: n) }
        guard let lo = rates.first, let hi = rates.last, n > 1 else { return Array(repeating: rates[0], count: n) }
        return (0..<n).map { lo * pow(hi / lo, Double($0) / Double(n - 1)) }
    }

    /// One epoch: training, then validation when there is validation data; records the epoch's row.
    private func runEpoch() throws {
        let start = Date()
        var trainLoss = Double.nan
        try withEvents(.train) { trainLoss = try trainOneEpoch() }
        var validLoss: Double?
        var values: [(String, Double)] = []
        if valid != nil {
            try withEvents(.validate) {
                // The weights hold still while validation runs (the callbacks' before-events have set them): the body
                // runs through oneDNN directly where it can, built afresh from them, as a model read back would run.
                let result = try Classifier.evaluatingThroughOneDNN(model) { try validate() }
                validLoss = result.loss
                values = metrics.map { ($0.name, $0.compute(result.probabilities, result.labels)) }
            }
        }
        epochsDone = epoch + 1
        recorder.record(
            epoch: .init(
                phase: recorder.phase, epoch: epoch, trainLoss: trainLoss, validLoss: validLoss,
                metrics: values, seconds: Date().timeIntervalSince(start)))
    }

    /// The training batches of one epoch; returns the mean training loss.
    private func trainOneEpoch() throws -> Double {
        network.train()
        isTraining = true
        defer { isTraining = false }
        var total = 0.0, count = 0
        batchIndex = 0
        // Gradients are zeroed after each step (so a cancelled step lets them add up) and before the first.
        try optimizer.zeroGrad()
        for (x, y) in train.batches(for: epoch) {
            inputs = x
            targets = y
            // Seeded per batch (dropout, stochastic depth), so runs and resumed runs repeat exactly.
            Torch.manualSeed(seed &+ UInt64(epoch) &* 1_000_003 &+ UInt64(batchIndex) &+ randomStream &* 0x9E37_79B9)
            try withEvents(.batch) {
                let value = try trainOneBatch()
                total += value * Double(x.shape[0])
                count += x.shape[0]
            }
            batchIndex += 1
            // Drop references so the batch's graph is freed before the next one is loaded.
            inputs = nil
            prediction = nil
            loss = nil
        }
        return count > 0 ? total / Double(count) : .nan
    }

    /// Forward, loss, backward and step for the batch in `inputs` and `targets` (as `beforeBatch` left them); each
    /// of prediction and loss may be replaced by the callbacks that hear of it. Returns the batch's loss.
    private func trainOneBatch() throws -> Double {
        guard let x = inputs, let y = targets else { throw LearnError("a callback removed the batch") }
        prediction = try mixedPrecision ? Torch.withAutocast { try network(x) } : network(x)
        try send { try $0.afterPrediction(self) }
        guard let out = prediction else { throw LearnError("a callback removed the prediction") }
        let computed = try lossFunction(out.to(.float32), y)
        loss = computed
        try send { try $0.afterLoss(self) }
        guard let l = loss else { throw LearnError("a callback removed the loss") }
        try withEvents(.backward) { try l.backward() }
        try withEvents(.step) {
            try optimizer.step()
            try optimizer.zeroGrad()
        }
        // The history records the loss function's value, whatever a callback made of it for the gradients.
        let value = try computed.item()
        recorder.record(
            step: .init(
                phase: recorder.phase, loss: value, rates: optimizer.groups.map(\.learningRate),
                momentum: optimizer.groups.last?.momentum ?? 0))
        return value
    }

    /// Runs `body` between the callbacks' before and after events of `stage` (fastai's `_with_events`).
    /// The cancellation that belongs to the stage (``CancelFit``, ``CancelEpoch``, ``CancelTrain``,
    /// ``CancelValidate``, ``CancelBatch``) ends the body early: the callbacks then hear `afterCancel` and
    /// still `after`. Any other error propagates without after-events.
    private func withEvents(_ stage: LoopStage, _ body: () throws -> Void) throws {
        do {
            try send { try $0.before(stage, self) }
            try body()
        } catch let cancel as LoopCancellation where cancel.stage == stage {
            if stage == .fit, verbose, let reason = (cancel as? CancelFit)?.reason, !reason.isEmpty {
                Feedback.log("stopped: \(reason)")
            }
            try send { try $0.afterCancel(stage, self) }
        }
        try send { try $0.after(stage, self) }
    }

    /// Calls `event` on every active callback, in order.
    private func send(_ event: (Callback) throws -> Void) throws {
        for callback in active { try event(callback) }
    }

    /// Loss, probabilities and labels over the validation set (eval mode, no gradients).
    public func validate(
        _ source: BatchSource? = nil
    ) throws -> (loss: Double, probabilities: [[Double]], labels: [Int]) {
        guard let source = source ?? valid else { throw LearnError("no validation data") }
        let (probabilities, labels, loss) = try predict(source)
        return (loss, probabilities, labels)
    }

    /// Class probabilities of every batch of `source` (eval mode), with its labels (as ``ClassificationTask`` says)
    /// and the mean of ``lossFunction`` over the images.
    public func predict(
        _ source: BatchSource, epoch: Int = 0
    ) throws -> (probabilities: [[Double]], labels: [Int], loss: Double) {
        network.eval()
        defer { if isTraining { network.train() } }
        var probabilities: [[Double]] = [], labels: [Int] = []
        var total = 0.0
        try Torch.withoutGrad {
            for (x, y) in source.batches(for: epoch) {
                let logits = try forwardForPrediction(x)
                // The configured loss (a batch mean), weighted by the batch size.
                total += try lossFunction(logits, y).item() * Double(x.shape[0])
                let p = try task.activate(logits)
                let flat = try p.toArray(Float.self), c = p.shape[1]
                for i in 0..<p.shape[0] { probabilities.append(flat[(i * c)..<((i + 1) * c)].map(Double.init)) }
                // Class indices, or 0/1 per label in row order (multi-label): see ``ClassificationTask``.
                labels += try y.to(.int64).toArray(Int64.self).map(Int.init)
            }
        }
        if let group = predictionGroup {
            (probabilities, labels, total) = try join(probabilities, labels, total, group)
        }
        return (probabilities, labels, probabilities.isEmpty ? .nan : total / Double(probabilities.count))
    }

    /// Every rank's probabilities, labels and loss sum, in rank order.
    private func join(
        _ probabilities: [[Double]], _ labels: [Int], _ lossSum: Double, _ group: ProcessGroup
    ) throws -> ([[Double]], [Int], Double) {
        // A rank whose part is empty does not know the class count: take it from the others.
        let withRows = try group.count(!probabilities.isEmpty)
        let classSum = try group.sum(Double(probabilities.first?.count ?? 0))
        guard withRows > 0 else { return ([], [], 0) }
        let c = Int((classSum / Double(withRows)).rounded())
        let rows = try group.gatherRows(Tensor(probabilities.flatMap { $0 }, shape: [probabilities.count, c]))
        let flat = try rows.toArray(Double.self)
        let all = (0..<rows.shape[0]).map { Array(flat[($0 * c)..<(($0 + 1) * c)]) }
        return (
            all, try group.gatherRows(Tensor(labels.map(Int64.init))).toArray(Int64.self).map(Int.init),
            try group.sum(lossSum)
        )
    }
}

extension Learner {
    /// Eval-time forward pass, under bfloat16 autocast with ``inferenceMixedPrecision``; float32 logits.
    func forwardForPrediction(_ x: Tensor) throws -> Tensor {
        try (inferenceMixedPrecision ? Torch.withAutocast { try network(x) } : network(x)).to(.float32)
    }
}

/// A training problem a user can act on.
public struct LearnError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
