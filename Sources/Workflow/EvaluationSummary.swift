import Foundation
import Learn

/// What `quadrat evaluate` prints for a model's predictions on a labelled folder: the accuracy of the decisions as
/// `predict` writes them (at the model's threshold), ROC AUC, log loss, calibration error, per-class precision,
/// recall and F1 under the names shown for the classes, and the confusion matrix.
public enum EvaluationSummary {
    /// What `evaluate` prints, as the model's task says it.
    public static func lines(_ p: LabelledPredictions, tta: Bool) -> [String] {
        p.saved.task.workflow.evaluationLines(p, tta: tta)
    }

    /// A single-label model's figures: accuracy at its decisions, ROC AUC, log loss, calibration error, per class
    /// precision, recall and F1, and the confusion matrix.
    static func classLines(_ p: LabelledPredictions, tta: Bool) -> [String] {
        let names = p.saved.classNames
        let calibration = p.saved.calibration(tta: tta)
        // One accuracy: the decisions `predict` writes (at the model's threshold for binary models).
        let decided = p.probabilities.map { calibration?.decide($0) ?? Metrics.argmax($0) }
        var how = ""
        if let calibration, let threshold = calibration.threshold, names.count == 2 {
            how =
                " (decisions as predict writes them: \(names[1]) at probability ≥ "
                + "\(Calibration.thresholdText(threshold)), \(calibration.ruleDescription))"
        }
        var lines = [
            "images: \(p.items.count)",
            String(format: "accuracy: %.4f", Metrics.accuracy(decisions: decided, labels: p.labels)) + how,
            String(format: "roc_auc: %.4f", Metrics.rocAUC(probabilities: p.probabilities, labels: p.labels)),
            String(format: "log_loss: %.4f", Metrics.logLoss(probabilities: p.probabilities, labels: p.labels)),
            String(
                format: "expected_calibration_error: %.4f",
                Calibration.expectedCalibrationError(probabilities: p.probabilities, labels: p.labels)),
        ]
        if let rule = calibration?.thresholdRule, rule != "accuracy", names.count == 2 {
            lines.append(
                String(
                    format: "accuracy_most_probable_class: %.4f (at probability 0.5 instead of the threshold)",
                    Metrics.accuracy(probabilities: p.probabilities, labels: p.labels)))
        }
        let matrix = Interpretation(
            probabilities: p.probabilities, labels: p.labels, classes: p.saved.classes, decisions: decided
        ).confusionMatrix
        let width = max(12, (names.map(\.count).max() ?? 0) + 1)
        lines.append("class".padding(toLength: width, withPad: " ", startingAt: 0) + " precision  recall     f1")
        for (c, m) in Metrics.precisionRecallF1(matrix).enumerated() {
            lines.append(
                names[c].padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(format: " %.4f     %.4f     %.4f", m.precision, m.recall, m.f1))
        }
        lines.append("confusion matrix (rows: true, columns: predicted; order \(names.joined(separator: ", "))):")
        for row in matrix {
            lines.append("  " + row.map { String($0).padding(toLength: 6, withPad: " ", startingAt: 0) }.joined())
        }
        return lines
    }

    /// A multi-label model's figures: exact match, label accuracy, macro and micro F1, mAP, then per label its
    /// threshold, precision, recall, F1, ROC AUC and average precision.
    static func labelLines(_ p: LabelledPredictions, tta: Bool) -> [String] {
        let thresholds =
            p.saved.labelCalibration(tta: tta)?.thresholds ?? Array(repeating: 0.5, count: p.saved.classes.count)
        // The rows and thresholds come from one model: they fit.
        guard
            let scores = try? MultiLabelScores(probabilities: p.probabilities, labels: p.truth, thresholds: thresholds)
        else { return ["images: \(p.items.count)"] }
        let names = p.saved.classNames
        var lines = [
            "images: \(p.items.count)",
            String(format: "exact_match: %.4f (every label of the photo decided right)", scores.exactMatch),
            String(format: "accuracy_multi: %.4f (each label of each photo)", scores.accuracyMulti),
            String(format: "macro_f1: %.4f", scores.macroF1), String(format: "micro_f1: %.4f", scores.microF1),
            String(format: "map: %.4f", scores.meanAveragePrecision),
        ]
        let width = max(12, (names.map(\.count).max() ?? 0) + 1)
        lines.append(
            "label".padding(toLength: width, withPad: " ", startingAt: 0)
                + " threshold  precision  recall     f1         roc_auc    avg_precision")
        for (k, label) in scores.labels.enumerated() {
            lines.append(
                names[k].padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(
                        format: " %.3f      %.4f     %.4f     %.4f     %.4f     %.4f", thresholds[k], label.precision,
                        label.recall, label.f1, label.rocAUC, label.averagePrecision))
        }
        return lines
    }

    /// How many of these labelled photos, all of the model's classes, the "none of these" answer refuses: nil when the
    /// model has no unknown threshold (a reference made before it existed, or `--unknown-rate 0`).
    public static func unknownLine(_ p: LabelledPredictions) -> String? {
        let check: DeploymentCheck?
        do {
            check = try DeploymentCheck.run(p.saved, items: p.items, probabilities: p.probabilities)
        } catch {
            return "note: no unknown answer: \(error)"  // a damaged reference costs this line, not the scores
        }
        guard let check, let rate = check.unknownRate else { return nil }
        let refused = check.unknown.filter { $0 }.count
        return String(
            format: "unknown: %d of %d photos answered unknown (%.1f %%; the model refuses %.0f %% of validation)",
            refused, check.unknown.count, 100 * Double(refused) / Double(max(1, check.unknown.count)), rate * 100)
    }
}
