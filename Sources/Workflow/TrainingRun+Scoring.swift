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
    public var labels: [Int]
    /// Calibrated (what `predict` writes).
    public var probabilities: [[Double]]
    /// As the network gives them, with TTA when the run used it.
    public var uncalibrated: [[Double]]
    /// The class decided for each photo: the calibrated threshold for binary models, else the most probable.
    public var decisions: [Int]

    /// The share of decisions that are right: the accuracy every page and summary quotes.
    public var accuracy: Double { Metrics.accuracy(decisions: decisions, labels: labels) }
    public var rocAUC: Double { Metrics.rocAUC(probabilities: probabilities, labels: labels) }
}

/// What the score stage measured: validation (which chose the epoch and fits the calibration) and the held-out test.
struct RunScores {
    var validation: SetScore
    /// Validation's probabilities without TTA, as the network gives them (for the plain calibration).
    var validPlain: [[Double]]
    var calibration: ModelCalibration
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
        let labels = try items.labels()
        // Calibration on validation: a temperature (and a binary threshold) for plain predictions and for TTA.
        func fitted(_ p: [[Double]]) -> Calibration {
            Calibration.fit(
                probabilities: p, labels: labels, goal: options.decideFor, targetRecall: options.targetRecall)
        }
        let calibration = ModelCalibration(plain: fitted(plain), tta: views > 0 ? fitted(raw) : nil)
        let shown = calibration.tta ?? calibration.plain
        learner.checkpointMetadata["calibration"] = String(
            decoding: try JSONEncoder().encode(calibration), as: UTF8.self)
        let validation = SetScore(scoring: raw, items: items, labels: labels, calibration: shown, name: "validation")
        Feedback.log(calibrationLine(shown, raw: raw, calibrated: validation.probabilities, labels: labels))
        Feedback.log(line(validation, views: views))

        var heldOut: SetScore?
        var skipped = data.validLoader.skipped.all
        if let test = data.heldOut {
            let loader = evaluationLoader(
                test.dataset, size: data.size, architecture: data.architecture, cache: data.cache)
            let (p, _, kept) = try times.time("held-out test") {
                try learner.predictionsWithTTA(loader, views: views, augmentation: augmentation)
            }
            skipped += loader.skipped.all
            if !kept.isEmpty {
                let items = kept.map { test.dataset.items[$0] }
                heldOut = SetScore(
                    scoring: p, items: items, labels: try items.labels(), calibration: shown, name: test.name)
                Feedback.log(line(heldOut!, views: views))  // just made
            }
        }
        return RunScores(
            validation: validation, validPlain: plain, calibration: calibration, shown: shown, heldOut: heldOut,
            skipped: skipped)
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

    /// "held-out test (test/, test_labels.csv), 61 photos with TTA ×8: accuracy 0.9180, ROC AUC 0.9712".
    func line(_ score: SetScore, views: Int) -> String {
        let what = score.name == "validation" ? "validation" : "held-out test (\(score.name))"
        return String(
            format: "%@, %d photos%@: accuracy %.4f, ROC AUC %.4f", what, score.labels.count,
            views > 0 ? " with TTA ×\(views + 1)" : "", score.accuracy, score.rocAUC)
    }
}

extension SetScore {
    /// The score of network probabilities `raw` for `items`, calibrated and decided by `calibration`.
    init(scoring raw: [[Double]], items: [ImageItem], labels: [Int], calibration: Calibration, name: String) {
        let probabilities = raw.map(calibration.apply)
        self.init(
            name: name, items: items, labels: labels, probabilities: probabilities, uncalibrated: raw,
            decisions: probabilities.map(calibration.decide))
    }
}
