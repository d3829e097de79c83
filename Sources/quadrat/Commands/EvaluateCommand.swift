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
        let classes = p.saved.classes
        print("images: \(p.items.count)")
        print(String(format: "accuracy: %.4f", Metrics.accuracy(probabilities: p.probabilities, labels: p.labels)))
        print(String(format: "roc_auc: %.4f", Metrics.rocAUC(probabilities: p.probabilities, labels: p.labels)))
        print(String(format: "log_loss: %.4f", Metrics.logLoss(probabilities: p.probabilities, labels: p.labels)))
        print(
            String(
                format: "expected_calibration_error: %.4f",
                Calibration.expectedCalibrationError(probabilities: p.probabilities, labels: p.labels)))
        let calibration = p.saved.calibration(tta: arguments.tta)
        let decided = p.probabilities.map { calibration?.decide($0) ?? Metrics.argmax($0) }
        if let threshold = calibration?.threshold, classes.count == 2 {
            let right = zip(decided, p.labels).filter { $0 == $1 }.count
            print(
                String(
                    format: "accuracy_at_threshold: %.4f (threshold %.3f, %@; below: decisions at it)",
                    Double(right) / Double(max(1, p.labels.count)), threshold, calibration?.thresholdRule ?? ""))
        }
        let matrix = Interpretation(
            probabilities: p.probabilities, labels: p.labels, classes: classes, decisions: decided
        ).confusionMatrix
        print("class        precision  recall     f1")
        for (c, m) in Metrics.precisionRecallF1(matrix).enumerated() {
            print(
                classes[c].padding(toLength: 12, withPad: " ", startingAt: 0)
                    + String(format: " %.4f     %.4f     %.4f", m.precision, m.recall, m.f1))
        }
        print("confusion matrix (rows: true, columns: predicted; order \(classes.joined(separator: ", "))):")
        for row in matrix {
            print("  " + row.map { String($0).padding(toLength: 6, withPad: " ", startingAt: 0) }.joined())
        }
    }
}
