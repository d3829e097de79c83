import Foundation
import NN
import Torch
import Vision

/// The seed's transfer-learning workflow as data: head on precomputed activations → head with
/// augmentation (SGDR) → all layers with discriminative rates (SGDR, cycle_mult) → TTA.
/// Every field is saved with the model and in config.json, and is a key of a config file's `recipe` mapping.
public struct Recipe: Codable, Sendable, Equatable {
    /// Epochs of the head on precomputed (un-augmented) activations; 0 skips the phase.
    public var precomputeEpochs = 3
    /// Learning rate of the head phases (AdamW).
    public var headRate = 3e-3
    /// SGDR cycles of the head with augmentation (body frozen), each `headCycleLength` epochs. None by default:
    /// on ELPV, an augmented head epoch after the precomputed ones took 60 s and did not improve validation
    /// (accuracy 81.7 % → 81.2 %, loss 0.376 → 0.383); `--head-epochs` brings it back.
    public var headCycles = 0
    public var headCycleLength = 1
    /// SGDR cycles with all layers unfrozen; cycle k lasts `cycleLength × cycleMult^k` epochs. By default one
    /// cosine cycle whose length `quadrat train` plans from the data size (nil until planned).
    public var unfrozenCycles = 1
    public var cycleLength: Int?
    public var cycleMult = 1
    /// Discriminative rates for (early body, late body, head), the seed's `[lr/100, lr/10, lr]`.
    public var unfrozenRates = [1e-5, 1e-4, 6e-4]
    /// The unfrozen rates as the head's rate divided by these, when the head's rate comes from `--lr` or the LR
    /// finder (which then set ``unfrozenRates``): half the seed's ratios (300, 30, 5), as fastai's `fine_tune` halves
    /// its rate for the unfrozen phase. On ELPV (AMD Zen 5, same split and seed, warm-up and weight average on) the
    /// halved rates trained a smoother and better model: validation loss 0.318 against 0.305 but accuracy with TTA
    /// 87.5 % against 84.7 %, held-out 88.4 % / ROC AUC 0.926 against 87.8 % / 0.924.
    public var unfrozenRateDivisors: [Double] = [600, 60, 10]
    /// Augmented views for the final TTA score (0: none).
    public var ttaViews = 4
    /// bfloat16 autocast for the training forward passes. `quadrat train` chooses it by timing both on the
    /// machine (`--precision auto`): it helped on an AMD Zen 4 and hurt on an Intel Xeon with AVX512-BF16.
    public var mixedPrecision = true
    /// bfloat16 autocast for the evaluation forward passes (precompute, validation, TTA), chosen apart.
    public var inferenceMixedPrecision = true
    /// bfloat16 autocast for the forward pass of the frozen early body in training (`Classifier`'s
    /// `earlyBodyMixedPrecision`; its output goes on in float32, and the layers that train stay in float32). Off
    /// unless a config file's `recipe` asks for it; `quadrat train` then keeps it only under `--precision auto` where
    /// the probe measured the training step at least 1.1× faster so (`MachineProfile.trainsEarlyBodyInBF16`).
    public var earlyBodyMixedPrecision = false
    /// Keep the body's BatchNorm statistics fixed when unfrozen (their scale and shift still train).
    public var freezeBatchNormStatistics = true
    /// First layer group trained in the unfrozen phase: 0 trains every group; 1 keeps the early body
    /// (stem and high-resolution stages) fixed, BatchNorm included, which skips its backward pass.
    public var unfrozenFrom = 1
    /// Fraction of the first unfrozen cycle spent rising to its rates (``Schedules/sgdr(cycles:cycleLength:cycleMult:minimumFraction:warmup:)``).
    public var unfrozenWarmup = 0.3
    /// Validate and keep an exponential moving average of the unfrozen phase's weights (``WeightAveraging``).
    public var averageWeights = true

    /// A recipe with the defaults above. Read from a file, it is laid over them by the reader of the options it is
    /// part of, so a file that names some fields (or predates some) keeps the defaults of the rest.
    public init() {}

    /// The unfrozen phase's discriminative rates for a head rate `rate`: (early body, late body, head) at the
    /// default ``unfrozenRateDivisors``.
    public static func unfrozenRates(forHeadRate rate: Double) -> [Double] {
        Recipe().unfrozenRates(forHeadRate: rate)
    }

    /// The unfrozen phase's rates for a head rate `rate`, at this recipe's ``unfrozenRateDivisors``.
    public func unfrozenRates(forHeadRate rate: Double) -> [Double] { unfrozenRateDivisors.map { rate / $0 } }

    /// Total training epochs (excluding precompute).
    public var epochs: Int {
        headCycles * headCycleLength
            + (0..<unfrozenCycles).map { (cycleLength ?? 0) * Int(pow(Double(cycleMult), Double($0))) }.reduce(0, +)
    }
}

/// Wall-clock seconds per phase of a recipe run.
public struct PhaseTimes: Codable, Sendable {
    public var phases: [String: Double] = [:]
    public var order: [String] = []

    public init() {}

    /// Runs `body`, adding its wall-clock time to phase `name`.
    public mutating func time<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        let start = Date()
        defer {
            phases[name, default: 0] += Date().timeIntervalSince(start)
            if !order.contains(name) { order.append(name) }
        }
        return try body()
    }
}

extension Learner {
    /// Runs `recipe` on a classifier learner whose `train`/`valid` are image loaders.
    /// Returns the phase times; the recorder holds the history.
    /// `unfrozenExtras` are callbacks for the unfrozen phase only (``ProgressiveResizing``).
    /// `resumeAt` (from a checkpoint of ``EpochStartSnapshots``) skips the phases before its phase and the epochs
    /// before its epoch: the learner must hold that checkpoint's state.
    /// With a data-parallel `group`, the loaders are sharded (``DataLoader/shard``) and the learner carries a
    /// ``DataParallel`` callback: the features are precomputed in parts and joined, and the head trains on them
    /// as the other phases do, each rank on its part of every batch. Every phase runs in this learner, with its
    /// callbacks (``fitOnFeatures(_:train:valid:rate:cycles:from:)`` for the head on precomputed activations).
    public func run(
        _ recipe: Recipe, classifier: Classifier, trainLoader: DataLoader, validLoader: DataLoader?,
        featureKey: String?, unfrozenExtras: [Callback] = [], resumeAt: TrainingSnapshot.Position? = nil,
        group: ProcessGroup? = nil
    ) throws -> PhaseTimes {
        var times = PhaseTimes()
        mixedPrecision = recipe.mixedPrecision
        inferenceMixedPrecision = recipe.inferenceMixedPrecision
        // The phases in order; a resumed run starts inside one of the trained ones.
        let phases = ["head-precomputed", "head-augmented", "unfrozen"]
        let resumeIndex = resumeAt.flatMap { phases.firstIndex(of: $0.phase) } ?? 0
        func firstEpoch(_ phase: String) -> Int? {
            let index = phases.firstIndex(of: phase) ?? 0
            if index < resumeIndex { return nil }
            return index == resumeIndex ? resumeAt?.epoch ?? 0 : 0
        }
        if recipe.precomputeEpochs > 0, let first = firstEpoch("head-precomputed") {
            let (trainFeatures, validFeatures) = try times.time("precompute") {
                (
                    try classifier.precompute(
                        trainLoader, cacheKey: featureKey.map { $0 + "-train" }, label: "precompute train",
                        mixedPrecision: recipe.inferenceMixedPrecision, group: group),
                    try validLoader.map {
                        try classifier.precompute(
                            $0, cacheKey: featureKey.map { $0 + "-valid" }, label: "precompute valid",
                            mixedPrecision: recipe.inferenceMixedPrecision, group: group)
                    }
                )
            }
            try times.time("head (precomputed)") {
                let features = FeatureBatches(
                    features: trainFeatures.features, labels: trainFeatures.labels, seed: seed)
                features.balanced = trainLoader.balanced
                recorder.phase = "head-precomputed"
                try fitOnFeatures(
                    classifier.headAfterPooling,
                    train: group.map { RankShard(features, rank: $0.rank, worldSize: $0.worldSize) } ?? features,
                    valid: validFeatures.map {
                        FeatureBatches(features: $0.features, labels: $0.labels, shuffle: false)
                    }, rate: recipe.headRate, cycles: recipe.precomputeEpochs, from: first)
            }
        }
        train = trainLoader
        valid = validLoader
        if recipe.headCycles > 0, let first = firstEpoch("head-augmented") {
            try times.time("head (augmented)") {
                trainFrozenBatchNorm = false
                try freeze()
                classifier.earlyBodyMixedPrecision = recipe.earlyBodyMixedPrecision
                defer { classifier.earlyBodyMixedPrecision = false }
                recorder.phase = "head-augmented"
                try fitSGDR(
                    rates: [recipe.headRate], cycles: recipe.headCycles, cycleLength: recipe.headCycleLength,
                    from: first)
            }
        }
        if recipe.unfrozenCycles > 0, let first = firstEpoch("unfrozen") {
            guard let cycleLength = recipe.cycleLength else {
                throw LearnError("the recipe's unfrozen cycle length is not set (plan it, or set cycleLength)")
            }
            try times.time("unfrozen") {
                trainFrozenBatchNorm = false
                updateBodyBatchNormStatistics = !recipe.freezeBatchNormStatistics
                try freeze(upTo: recipe.unfrozenFrom)
                // The classifier runs it only while the early group stays frozen (not with `unfrozenFrom` 0).
                classifier.earlyBodyMixedPrecision = recipe.earlyBodyMixedPrecision
                defer { classifier.earlyBodyMixedPrecision = false }
                recorder.phase = "unfrozen"
                try fitSGDR(
                    rates: recipe.unfrozenRates, cycles: recipe.unfrozenCycles, cycleLength: cycleLength,
                    cycleMult: recipe.cycleMult, warmup: recipe.unfrozenWarmup, from: first, extra: unfrozenExtras)
            }
        }
        return times
    }
}
