import Foundation
import Learn
import Torch
import Vision

/// A labelled set scored by the final model: calibrated probabilities, the decisions made from them and what
/// those decisions achieve.
public struct SetScore: Sendable {
    /// What the set is: "validation" or where the held-out photos came from ("test/, test_labels.csv").
    public var name: String
    public var items: [ImageItem]
    /// Each photo's class (single-label; empty for multi-label sets, whose labels are in ``truth``).
    public var labels: [Int]
    /// Each photo's labels as 0/1 per class (single-label: its class).
    public var truth: [[Bool]]
    /// Calibrated (what `predict` writes).
    public var probabilities: [[Double]]
    /// As the network gives them, with TTA when the run used it.
    public var uncalibrated: [[Double]]
    /// The class decided for each photo (single-label): the calibrated threshold for binary models, else the most
    /// probable. Empty for multi-label sets.
    public var decisions: [Int]
    /// The classes decided for each photo, as 0/1 per class: each label at its threshold (multi-label), or the
    /// decided class.
    public var decided: [[Bool]]
    /// Each label's threshold (multi-label; empty otherwise).
    public var thresholds: [Double]

    public var isMultiLabel: Bool { !thresholds.isEmpty }

    /// The share of decisions that are right: the accuracy every page and summary quotes. Multi-label: the share of
    /// photos whose decided labels are exactly their labels.
    public var accuracy: Double {
        guard isMultiLabel else { return Metrics.accuracy(decisions: decisions, labels: labels) }
        return labelScores?.exactMatch ?? .nan
    }

    /// ROC AUC (multi-label: the mean over labels that have both positives and negatives).
    public var rocAUC: Double {
        guard isMultiLabel else { return Metrics.rocAUC(probabilities: probabilities, labels: labels) }
        let aucs = labelScores?.labels.map(\.rocAUC).filter { !$0.isNaN } ?? []
        return aucs.isEmpty ? .nan : aucs.reduce(0, +) / Double(aucs.count)
    }

    /// Each class's share of right decisions (present or absent): a multi-label model's accuracy per label.
    public var labelAccuracies: [Double] {
        guard let width = truth.first?.count else { return [] }
        return (0..<width).map { k in
            Double(zip(decided, truth).filter { $0[k] == $1[k] }.count) / Double(max(1, truth.count))
        }
    }

    /// The multi-label scores at the thresholds (nil for single-label sets).
    public var labelScores: MultiLabelScores? {
        // Rows and thresholds come from one model and one set: they always fit.
        isMultiLabel ? try? MultiLabelScores(probabilities: probabilities, labels: truth, thresholds: thresholds) : nil
    }
}

/// What the score stage measured: validation (which chose the epoch and fits the calibration) and the held-out test.
struct RunScores {
    var validation: SetScore
    /// Validation's probabilities without TTA, as the network gives them (for the plain calibration).
    var validPlain: [[Double]]
    /// Single-label models' calibration (a multi-label model's is ``labelCalibration``; this one is then the identity).
    var calibration: ModelCalibration
    /// Each label's temperature and threshold (multi-label models).
    var labelCalibration: ModelLabelCalibration?
    /// The calibration the scores use: TTA's when the run used TTA.
    var shown: Calibration
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
        let (raw, plain, kept) = try times.time("TTA") {
            try learner.predictionsWithTTA(data.validLoader, views: views, augmentation: augmentation)
        }
        let items = kept.map { data.validSet.items[$0] }
        if data.dataset.isMultiLabel {
            return try scoreLabels(
                data, learner: learner, validation: (raw, plain, items), views: views, times: &times)
        }
        let labels = try items.labels()
        // Calibration on validation: a temperature (and a binary threshold) for plain predictions and for TTA.
        func fitted(_ p: [[Double]]) -> Calibration {
            Calibration.fit(
                probabilities: p, labels: labels, goal: options.decisionGoal, targetRecall: options.targetRecall?.all)
        }
        let calibration = ModelCalibration(plain: fitted(plain), tta: views > 0 ? fitted(raw) : nil)
        let shown = calibration.tta ?? calibration.plain
        learner.checkpointMetadata["calibration"] = String(
            decoding: try JSONEncoder().encode(calibration), as: UTF8.self)
        let validation = SetScore(scoring: raw, items: items, labels: labels, calibration: shown, name: "validation")
        Feedback.log(calibrationLine(shown, raw: raw, calibrated: validation.probabilities, labels: labels))
        Feedback.log(line(validation, views: views))

        let (heldOut, skipped) = try scoreHeldOut(data, learner: learner, views: views, times: &times) {
            p, items, name in
            SetScore(scoring: p, items: items, labels: try items.labels(), calibration: shown, name: name)
        }
        return RunScores(
            validation: validation, validPlain: plain, calibration: calibration, shown: shown, heldOut: heldOut,
            skipped: skipped)
    }

    /// The score stage of a multi-label model: each label calibrated and its threshold chosen on validation (plain
    /// and TTA), then the held-out test with the same TTA and calibration.
    func scoreLabels(
        _ data: RunData, learner: Learner, validation: (raw: [[Double]], plain: [[Double]], items: [ImageItem]),
        views: Int, times: inout PhaseTimes
    ) throws -> RunScores {
        let (raw, plain, items) = validation
        let truth = items.map { $0.indicators(classCount: data.dataset.classes.count) }
        func fitted(_ p: [[Double]]) -> LabelCalibration {
            LabelCalibration.fit(
                probabilities: p, truth: truth, goal: options.decisionGoal, targetRecall: options.targetRecall,
                names: data.dataset.classes)
        }
        let calibration = ModelLabelCalibration(plain: fitted(plain), tta: views > 0 ? fitted(raw) : nil)
        let shown = calibration.tta ?? calibration.plain
        learner.checkpointMetadata[ModelLabelCalibration.metadataKey] = String(
            decoding: try JSONEncoder().encode(calibration), as: UTF8.self)
        let score = SetScore(scoring: raw, items: items, truth: truth, calibration: shown, name: "validation")
        Feedback.log(labelLine(score, classes: data.dataset.classes, calibration: shown))
        Feedback.log(line(score, views: views))
        let (heldOut, skipped) = try scoreHeldOut(data, learner: learner, views: views, times: &times) {
            p, items, name in
            SetScore(
                scoring: p, items: items, truth: items.map { $0.indicators(classCount: data.dataset.classes.count) },
                calibration: shown, name: name)
        }
        return RunScores(
            validation: score, validPlain: plain, calibration: ModelCalibration(plain: Calibration(), tta: nil),
            labelCalibration: calibration, shown: Calibration(), heldOut: heldOut, skipped: skipped)
    }

    /// The held-out test predicted with the validation's TTA and scored by `scoring` (the task's calibration and
    /// decisions), said in a line; with the photos the validation and test loaders could not read.
    func scoreHeldOut(
        _ data: RunData, learner: Learner, views: Int, times: inout PhaseTimes,
        scoring: ([[Double]], [ImageItem], String) throws -> SetScore
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
        let score = try scoring(p, kept.map { test.dataset.items[$0] }, test.name)
        Feedback.log(line(score, views: views))
        return (score, skipped)
    }

    /// "labels (threshold, F1, AP): mono 0.43 0.99 1.00; defective 0.38 0.83 0.90; …".
    func labelLine(_ score: SetScore, classes: [String], calibration: LabelCalibration) -> String {
        guard let scores = score.labelScores else { return "labels: no score" }
        return "labels (threshold, F1, average precision): "
            + zip(classes, zip(calibration.thresholds, scores.labels)).map { name, entry in
                String(format: "%@ %.3f %.3f %.3f", name, entry.0, entry.1.f1, entry.1.averagePrecision)
            }.joined(separator: "; ")
            + String(
                format: "; macro F1 %.4f, mAP %.4f, exact match %.4f", scores.macroF1, scores.meanAveragePrecision,
                scores.exactMatch)
    }

    /// "calibration: temperature 1.31, expected calibration error 0.052 → 0.021; threshold 0.500 (accuracy)".
    func calibrationLine(_ shown: Calibration, raw: [[Double]], calibrated: [[Double]], labels: [Int]) -> String {
        String(
            format: "calibration: temperature %.2f, expected calibration error %.3f → %.3f", shown.temperature,
            Calibration.expectedCalibrationError(probabilities: raw, labels: labels),
            Calibration.expectedCalibrationError(probabilities: calibrated, labels: labels))
            + (shown.threshold.map { "; threshold \(Calibration.thresholdText($0)) (\(shown.ruleDescription))" } ?? "")
            + (shown.temperatureNote.map { "; temperature \($0)" } ?? "")
    }

    /// "held-out test (test/, test_labels.csv), 61 photos with TTA ×8: accuracy 0.9180, ROC AUC 0.9712"; for a
    /// multi-label set, "exact match" and the mean ROC AUC over labels.
    func line(_ score: SetScore, views: Int) -> String {
        let what = score.name == "validation" ? "validation" : "held-out test (\(score.name))"
        return String(
            format: "%@, %d photos%@: %@ %.4f, %@ %.4f", what, score.items.count,
            views > 0 ? " with TTA ×\(views + 1)" : "", score.isMultiLabel ? "exact match" : "accuracy",
            score.accuracy, score.isMultiLabel ? "mean ROC AUC" : "ROC AUC", score.rocAUC)
    }
}

extension SetScore {
    /// The score of network probabilities `raw` for `items`, calibrated and decided by `calibration`.
    init(scoring raw: [[Double]], items: [ImageItem], labels: [Int], calibration: Calibration, name: String) {
        let probabilities = raw.map(calibration.apply)
        let decisions = probabilities.map(calibration.decide)
        let width = raw.first?.count ?? 0
        self.init(
            name: name, items: items, labels: labels, truth: SingleLabelTask().truth(labels, labelCount: width),
            probabilities: probabilities, uncalibrated: raw, decisions: decisions,
            decided: SingleLabelTask().truth(decisions, labelCount: width), thresholds: [])
    }

    /// The score of a multi-label model's probabilities `raw` for `items` with labels `truth`, calibrated and
    /// decided label by label.
    init(scoring raw: [[Double]], items: [ImageItem], truth: [[Bool]], calibration: LabelCalibration, name: String) {
        let probabilities = raw.map(calibration.apply)
        self.init(
            name: name, items: items, labels: [], truth: truth, probabilities: probabilities, uncalibrated: raw,
            decisions: [], decided: probabilities.map(calibration.decide), thresholds: calibration.thresholds)
    }
}
