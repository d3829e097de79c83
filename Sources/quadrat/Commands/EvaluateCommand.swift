import ArgumentParser
import Foundation
import Learn
import Workflow

/// `quadrat evaluate MODEL DATA`.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract:
            "Score a model on a labelled folder: accuracy, ROC AUC, log loss, calibration, precision/recall/F1, confusion matrix.",
        discussion: "Example: quadrat evaluate runs/invasive/model.safetensors ~/invasive-holdout --tta"
    )

    @OptionGroup var arguments: LabelledDataArguments

    func run() throws {
        let p = try arguments.predictions()
        let names = p.saved.classNames
        let calibration = p.saved.calibration(tta: arguments.tta)
        // One accuracy: the decisions `predict` writes (at the model's threshold for binary models).
        let decided = p.probabilities.map { calibration?.decide($0) ?? Metrics.argmax($0) }
        print("images: \(p.items.count)")
        var how = ""
        if let calibration, let threshold = calibration.threshold, names.count == 2 {
            how =
                " (decisions as predict writes them: \(names[1]) at probability ≥ "
                + "\(Calibration.thresholdText(threshold)), \(calibration.ruleDescription))"
        }
        print(String(format: "accuracy: %.4f", Metrics.accuracy(decisions: decided, labels: p.labels)) + how)
        print(String(format: "roc_auc: %.4f", Metrics.rocAUC(probabilities: p.probabilities, labels: p.labels)))
        print(String(format: "log_loss: %.4f", Metrics.logLoss(probabilities: p.probabilities, labels: p.labels)))
        print(
            String(
                format: "expected_calibration_error: %.4f",
                Calibration.expectedCalibrationError(probabilities: p.probabilities, labels: p.labels)))
        if let rule = calibration?.thresholdRule, rule != "accuracy", names.count == 2 {
            print(
                String(
                    format: "accuracy_most_probable_class: %.4f (at probability 0.5 instead of the threshold)",
                    Metrics.accuracy(probabilities: p.probabilities, labels: p.labels)))
        }
        let matrix = Interpretation(
            probabilities: p.probabilities, labels: p.labels, classes: p.saved.classes, decisions: decided
        ).confusionMatrix
        let width = max(12, (names.map(\.count).max() ?? 0) + 1)
        print("class".padding(toLength: width, withPad: " ", startingAt: 0) + " precision  recall     f1")
        for (c, m) in Metrics.precisionRecallF1(matrix).enumerated() {
            print(
                names[c].padding(toLength: width, withPad: " ", startingAt: 0)
                    + String(format: " %.4f     %.4f     %.4f", m.precision, m.recall, m.f1))
        }
        print("confusion matrix (rows: true, columns: predicted; order \(names.joined(separator: ", "))):")
        for row in matrix {
            print("  " + row.map { String($0).padding(toLength: 6, withPad: " ", startingAt: 0) }.joined())
        }
    }
}
