import ArgumentParser
import Foundation
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
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let predictions = try arguments.predictions()
        for line in EvaluationSummary.lines(predictions, tta: arguments.tta) { print(line) }
        if let line = EvaluationSummary.unknownLine(predictions) { print(line) }
    }
}
