import Foundation
import Learn

/// How long each part of a run takes on this machine: the measured throughputs a plan is made from.
public struct Throughput: Codable, Sendable, Equatable {
    /// Images per second of a training step with the body unfrozen (the recipe's mode).
    public var unfrozenTraining: Double
    /// Images per second of a training step with the body frozen (forward through the body, head backward).
    public var frozenTraining: Double
    /// Images per second of an evaluation forward pass (validation, precompute, TTA).
    public var inference: Double
    /// Images per second of the final TTA passes, when they run in another precision than validation (bf16 that
    /// is expected to agree with fp32); nil: ``inference``.
    public var tta: Double?
    /// Seconds of the LR finder (its range test on the head, and the curve).
    public var lrFindSeconds = 2.0
    /// The rates come from real runs on this machine (``MachineProfile/Observed``), not only from the probe's
    /// synthetic batches: the plan then needs no safety margin.
    public var fromRuns = false

    public init(unfrozenTraining: Double, frozenTraining: Double, inference: Double, tta: Double? = nil) {
        (self.unfrozenTraining, self.frozenTraining, self.inference) = (unfrozenTraining, frozenTraining, inference)
        self.tta = tta
    }
}

/// The epochs a run trains and the TTA views it scores with, with the time they should take.
public struct TrainingPlan: Codable, Sendable, Equatable {
    /// Head epochs on precomputed activations (about a second each).
    public var precomputeEpochs: Int
    /// Head epochs with augmentation, body frozen (none unless asked for).
    public var headEpochs: Int
    /// Epochs with the body unfrozen: one cosine cycle.
    public var unfrozenEpochs: Int
    /// Augmented views for the final score (0: plain only).
    public var ttaViews: Int
    /// Seconds the plan should take from planning to the end of the run.
    public var estimatedSeconds: Double

    public init(
        precomputeEpochs: Int, headEpochs: Int, unfrozenEpochs: Int, ttaViews: Int, estimatedSeconds: Double = 0
    ) {
        self.precomputeEpochs = precomputeEpochs
        self.headEpochs = headEpochs
        self.unfrozenEpochs = unfrozenEpochs
        self.ttaViews = ttaViews
        self.estimatedSeconds = estimatedSeconds
    }

    /// One line for the terminal.
    public var summary: String {
        "\(precomputeEpochs) precomputed head + \(headEpochs) augmented head + \(unfrozenEpochs) unfrozen epochs, "
            + "TTA ×\(ttaViews + 1)"
    }
}

/// Plans a run from the data size, the machine's measured throughput and, optionally, a time budget.
/// Pure functions: the numbers in, the plan out.
public enum Planner {
    /// Unfrozen epochs when the user gives neither `--epochs` nor `--budget`: more images need more steps
    /// but fewer passes over them. About √n / 5, between 3 and 12: 160 training images get 3 epochs,
    /// ELPV's 1,574 get 8, 10,000 get 12.
    public static func defaultUnfrozenEpochs(trainImages: Int) -> Int {
        min(12, max(3, Int((Double(trainImages).squareRoot() / 5).rounded())))
    }

    /// Seconds for work that does not depend on the number of epochs: precomputing the activations of the
    /// training and validation images, the LR finder and the head on them, the deployment reference (the features
    /// of up to 500 training photos and of validation), the INT8 calibration (up to 256 training photos through the
    /// graph, which watches every activation: about three plain passes, 5.2 s on AMD EPYC family 26 model 2), saving
    /// and the report.
    /// `featuresCached`: an earlier run with the same data and model left them on disk.
    public static func fixedSeconds(
        trainImages: Int, validImages: Int, throughput: Throughput, lrFind: Bool, featuresCached: Bool = false
    ) -> Double {
        (featuresCached ? 0 : Double(trainImages + validImages) / throughput.inference)
            + (lrFind ? throughput.lrFindSeconds : 0) + Double(min(500, trainImages) + validImages)
            / throughput.inference + Double(3 * min(Int8Calibration.defaultPhotos, trainImages)) / throughput.inference
            + 3 + 2
    }

    /// Seconds of one epoch: training `trainImages` at `rate` images/s, then validating.
    public static func epochSeconds(trainImages: Int, validImages: Int, rate: Double, throughput: Throughput) -> Double
    {
        Double(trainImages) / rate + Double(validImages) / throughput.inference
    }

    /// Seconds of TTA with `views` augmented views on the validation images.
    public static func ttaSeconds(validImages: Int, views: Int, throughput: Throughput) -> Double {
        Double(validImages * (views + 1)) / (throughput.tta ?? throughput.inference)
    }

    /// The plan for a run: `unfrozenEpochs`, `headEpochs` and `ttaViews` when given, else the defaults; with a
    /// `budget` (seconds from now), as many unfrozen epochs as fit, then as many TTA views as still fit. `safety` scales every estimate (data loading, machine noise);
    /// `smallEpochSpeedup` is how much faster the first half of the unfrozen epochs run under progressive resizing.
    /// `testImages`: a held-out test set, scored with the validation's TTA after training.
    public static func plan(
        trainImages: Int, validImages: Int, testImages: Int = 0, throughput: Throughput, budget: Double? = nil,
        unfrozenEpochs: Int? = nil, headEpochs: Int? = nil, ttaViews: Int = 4, lrFind: Bool = true,
        precomputeEpochs: Int = 3, safety: Double = 1.1, smallEpochSpeedup: Double = 1, featuresCached: Bool = false
    ) -> TrainingPlan {
        let fixed = fixedSeconds(
            trainImages: trainImages, validImages: validImages, throughput: throughput, lrFind: lrFind,
            featuresCached: featuresCached)
        let head = epochSeconds(
            trainImages: trainImages, validImages: validImages, rate: throughput.frozenTraining,
            throughput: throughput)
        // With progressive resizing, half the unfrozen epochs train `smallEpochSpeedup` times faster.
        let unfrozen = epochSeconds(
            trainImages: trainImages, validImages: validImages,
            rate: throughput.unfrozenTraining * 2 / (1 + 1 / smallEpochSpeedup), throughput: throughput)
        // Rates learnt from real runs already hold what the probe misses (loading, augmentation, noise).
        let safety = throughput.fromRuns ? 1 : safety
        func cost(_ p: TrainingPlan) -> Double {
            safety
                * (fixed + Double(p.headEpochs) * head + Double(p.unfrozenEpochs) * unfrozen
                    + ttaSeconds(validImages: validImages + testImages, views: p.ttaViews, throughput: throughput))
        }
        var p = TrainingPlan(
            precomputeEpochs: precomputeEpochs, headEpochs: headEpochs ?? 0,
            unfrozenEpochs: unfrozenEpochs ?? defaultUnfrozenEpochs(trainImages: trainImages), ttaViews: ttaViews)
        if let budget {
            // Epochs first: as many unfrozen epochs as the budget holds without TTA (the user's count is the
            // most it may get), then as many of the wanted TTA views as still fit, then, if even the plan without
            // epochs and views does not fit, no augmented head epoch (the precomputed head stays).
            let (ceiling, wantedViews) = (unfrozenEpochs ?? 100, p.ttaViews)
            (p.unfrozenEpochs, p.ttaViews) = (0, 0)
            func fits(_ change: (inout TrainingPlan) -> Void) -> Bool {
                var next = p
                change(&next)
                return cost(next) <= budget
            }
            while p.unfrozenEpochs < ceiling, fits({ $0.unfrozenEpochs += 1 }) { p.unfrozenEpochs += 1 }
            while p.ttaViews < wantedViews, fits({ $0.ttaViews += 1 }) { p.ttaViews += 1 }
            if cost(p) > budget, headEpochs == nil { p.headEpochs = 0 }
        }
        p.estimatedSeconds = cost(p)
        return p
    }
}
