import ArgumentParser
import Foundation
import Learn
import Workflow

/// `quadrat evaluate MODEL DATA`.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract:
            "Score a model on a labelled folder: accuracy, ROC AUC, log loss, precision/recall/F1, confusion matrix.",
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
        let matrix = Metrics.confusionMatrix(probabilities: p.probabilities, labels: p.labels, classes: classes.count)
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
