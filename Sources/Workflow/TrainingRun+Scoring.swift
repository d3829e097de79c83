import Foundation
import Learn
import Torch
import Vision

/// A labelled set scored by the final model: calibrated probabilities, the decisions made from them and what
/// those decisions achieve, as its task scores them.
public struct SetScore: Sendable {
    /// What the set is: "validation" or where the held-out photos came from ("test/, test_labels.csv").
    public var name: String
    public var items: [ImageItem]
    /// Each photo's labels as 0/1 per class (single-label: its class).
    public var truth: [[Bool]]
    /// Calibrated (what `predict` writes).
    public var probabilities: [[Double]]
    /// As the network gives them, with TTA when the run used it.
    public var uncalibrated: [[Double]]
    /// The classes decided for each photo, as 0/1 per class: the decided class (at the calibrated threshold for
    /// binary models, else the most probable), or each label at its threshold (multi-label).
    public var decided: [[Bool]]
    /// Each label's threshold, where each class is decided on its own (empty otherwise).
    public var thresholds: [Double]
    /// What the headline scores are called.
    public var names: ScoreNames
    /// The share of decisions that are right: the accuracy every page and summary quotes. Multi-label: the share of
    /// photos whose decided labels are exactly their labels.
    public var accuracy = Double.nan
    /// ROC AUC (multi-label: the mean over labels that have both positives and negatives).
    public var rocAUC = Double.nan

    /// The network's probabilities `raw` for `items` with labels `truth`, calibrated, decided and scored as `task`
    /// does with `calibration`.
    public init(
        scoring raw: [[Double]], items: [ImageItem], truth: [[Bool]], calibration: FittedCalibration,
        task: any TaskWorkflow, name: String
    ) {
        let probabilities = raw.map(calibration.apply)
        (self.name, self.items, self.truth, self.uncalibrated) = (name, items, truth, raw)
        (self.probabilities, decided, thresholds) = (
            probabilities, probabilities.map(calibration.decide), calibration.thresholds
        )
        names = task.scoreNames
        (accuracy, rocAUC) = task.headline(self)
    }

    /// Each photo's class (single-label sets: the first class its row marks).
    public var labels: [Int] { SingleLabelTask.classes(truth) }

    /// Each class's share of right decisions (present or absent): a multi-label model's accuracy per label.
    public var labelAccuracies: [Double] {
        guard let width = truth.first?.count else { return [] }
        return (0..<width).map { k in
            Double(zip(decided, truth).filter { $0[k] == $1[k] }.count) / Double(max(1, truth.count))
        }
    }

    /// The scores at each label's threshold (nil where classes are not decided each on its own).
    public var labelScores: MultiLabelScores? {
        // Rows and thresholds come from one model and one set: they always fit.
        thresholds.isEmpty
            ? nil : try? MultiLabelScores(probabilities: probabilities, labels: truth, thresholds: thresholds)
    }
}

/// What the score stage measured: validation (which chose the epoch and fits the calibration) and the held-out test.
struct RunScores {
    var validation: SetScore
    /// Validation's probabilities without TTA, as the network gives them (for the plain calibration).
    var validPlain: [[Double]]
    /// Validation's pooled body features of the plain view, a row per photo of `validation`, from the TTA pass (the
    /// deployment reference needs them); nil where the pass could not keep them (bf16, not a plain classifier).
    var validFeatures: Tensor?
    var heldOut: SetScore?
    /// Photos the validation and test loaders could not read.
    var skipped: [DataProblem]
}

extension TrainingRun {
    /// Stage 6: bf16 inference kept only if it agrees with fp32, validation with TTA, the calibration fitted on it,
    /// then the held-out test with the same TTA and calibration.
    func score(
        _ data: RunData, learner: Learner, recipe: inout Recipe, decided: RunDecisions, times: inout PhaseTimes
    ) throws -> RunScores {
        if decided.bf16InferenceCandidate {
            let agreement = try learner.precisionAgreement(on: data.validLoader)
            Feedback.log(agreement.summary)
            (recipe.inferenceMixedPrecision, learner.inferenceMixedPrecision) = (agreement.agrees, agreement.agrees)
            learner.checkpointMetadata["precision_agreement"] = agreement.summary
        }
        let augmentation = options.augmentationSettings
        let views = recipe.ttaViews
        learner.keepsPlainFeatures = true
        defer { learner.keepsPlainFeatures = false }
        let (raw, plain, kept) = try times.time("TTA") {
            try learner.predictionsWithTTA(data.validLoader, views: views, augmentation: augmentation)
        }
        let validFeatures = learner.plainFeatures
        learner.keepsPlainFeatures = false  // the held-out pass below needs none
        let items = kept.map { data.validSet.items[$0] }
        let task = options.task.workflow
        let classes = data.dataset.classes
        let truth = items.map { $0.indicators(classCount: classes.count) }
        // Calibration on validation, for plain predictions and for TTA.
        let calibration = try task.fitCalibration(
            plain: plain, tta: views > 0 ? raw : nil, truth: truth, classes: classes, options: options)
        learner.checkpointMetadata[calibration.key] = calibration.json
        let validation = SetScore(
            scoring: raw, items: items, truth: truth, calibration: calibration, task: task, name: "validation")
        Feedback.log(calibration.summary(raw, truth))
        Feedback.log(line(validation, views: views))
        let (heldOut, skipped) = try scoreHeldOut(
            data, learner: learner, views: views, calibration: calibration, task: task, times: &times)
        return RunScores(
            validation: validation, validPlain: plain, validFeatures: validFeatures, heldOut: heldOut, skipped: skipped)
    }

    /// The held-out test predicted with the validation's TTA, calibrated, decided and scored as `task` does with
    /// `calibration`, said in a line; with the photos the validation and test loaders could not read.
    func scoreHeldOut(
        _ data: RunData, learner: Learner, views: Int, calibration: FittedCalibration, task: any TaskWorkflow,
        times: inout PhaseTimes
    ) throws -> (SetScore?, [DataProblem]) {
        var skipped = data.validLoader.skipped.all
        guard let test = data.heldOut else { return (nil, skipped) }
        let loader = evaluationLoader(test.dataset, size: data.size, architecture: data.architecture, cache: data.cache)
        let augmentation = options.augmentationSettings
        let (p, _, kept) = try times.time("held-out test") {
            try learner.predictionsWithTTA(loader, views: views, augmentation: augmentation)
        }
        skipped += loader.skipped.all
        guard !kept.isEmpty else { return (nil, skipped) }
        let items = kept.map { test.dataset.items[$0] }
        let score = SetScore(
            scoring: p, items: items, truth: items.map { $0.indicators(classCount: data.dataset.classes.count) },
            calibration: calibration, task: task, name: test.name)
        Feedback.log(line(score, views: views))
        return (score, skipped)
    }

    /// "held-out test (test/, test_labels.csv), 61 photos with TTA ×8: accuracy 0.9180, ROC AUC 0.9712"; for a
    /// multi-label set, "exact match" and the mean ROC AUC over labels.
    func line(_ score: SetScore, views: Int) -> String {
        let what = score.name == "validation" ? "validation" : "held-out test (\(score.name))"
        return String(
            format: "%@, %d photos%@: %@ %.4f, %@ %.4f", what, score.items.count,
            views > 0 ? " with TTA ×\(views + 1)" : "", score.names.accuracy, score.accuracy,
            score.names.rocAUC, score.rocAUC)
    }
}
