import ArgumentParser
import Foundation
import Learn
import Report
import Torch
import Vision

/// Predictions of a saved model on a labelled folder, shared by `evaluate` and `interpret`.
struct LabelledPredictions {
    var saved: SavedModel
    var dataset: ImageDataset
    var probabilities: [[Double]]
    var items: [ImageItem]
    var skipped: [DataProblem]

    init(_ arguments: LabelledDataArguments) throws {
        Torch.useAllCores()
        let saved = try SavedModel(URL(fileURLWithPath: arguments.model))
        let dataset = try DataSource.labelled(URL(fileURLWithPath: arguments.data), nameColumn: arguments.nameColumn, labelColumn: arguments.labelColumn, classes: saved.classes)
        for p in dataset.problems { FileHandle.standardError.write(Data("left out: \(p)\n".utf8)) }
        let result = try saved.predict(dataset, ttaViews: arguments.tta ? 4 : 0, augmentation: saved.augmentation)
        self.saved = saved
        self.dataset = dataset
        probabilities = result.probabilities
        items = result.items.map { dataset.items[$0] }
        skipped = dataset.problems + result.skipped
        for p in result.skipped { FileHandle.standardError.write(Data("skipped: \(p)\n".utf8)) }
        guard !items.isEmpty else { throw ValidationError("none of the images in \(arguments.data) could be read") }
    }

    var labels: [Int] { items.map { $0.label ?? 0 } }
}

/// The arguments of commands that score a saved model on labelled data (`evaluate`, `interpret`).
struct LabelledDataArguments: ParsableArguments {
    @Argument(help: "The model file written by `quadrat train`.") var model: String
    @Argument(help: "A labelled data folder (Kaggle layout or class folders) or a labels CSV.") var data: String
    @Flag(help: "Test-time augmentation (plain + 4 augmented views).") var tta = false
    @Option(name: .customLong("name-column"), help: "CSV column with image names (default: the first).") var nameColumn: String?
    @Option(name: .customLong("label-column"), help: "CSV column with labels (default: the second).") var labelColumn: String?
}

/// `quadrat evaluate MODEL DATA`.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score a model on a labelled folder: accuracy, ROC AUC, log loss, precision/recall/F1, confusion matrix.",
        discussion: "Example: quadrat evaluate runs/invasive/model.safetensors ~/invasive-holdout --tta"
    )

    @OptionGroup var arguments: LabelledDataArguments

    func run() throws {
        let p = try LabelledPredictions(arguments)
        let classes = p.saved.classes
        print("images: \(p.items.count)")
        print(String(format: "accuracy: %.4f", Metrics.accuracy(probabilities: p.probabilities, labels: p.labels)))
        print(String(format: "roc_auc: %.4f", Metrics.rocAUC(probabilities: p.probabilities, labels: p.labels)))
        print(String(format: "log_loss: %.4f", Metrics.logLoss(probabilities: p.probabilities, labels: p.labels)))
        let matrix = Metrics.confusionMatrix(probabilities: p.probabilities, labels: p.labels, classes: classes.count)
        print("class        precision  recall     f1")
        for (c, m) in Metrics.precisionRecallF1(matrix).enumerated() {
            print(classes[c].padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: " %.4f     %.4f     %.4f", m.precision, m.recall, m.f1))
        }
        print("confusion matrix (rows: true, columns: predicted; order \(classes.joined(separator: ", "))):")
        for row in matrix { print("  " + row.map { String($0).padding(toLength: 6, withPad: " ", startingAt: 0) }.joined()) }
    }
}

/// `quadrat interpret MODEL DATA`.
struct InterpretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interpret",
        abstract: "Error analysis of a model on a labelled folder, as an HTML report.",
        discussion: "Example: quadrat interpret runs/invasive/model.safetensors ~/invasive-holdout --out interpret.html"
    )

    @OptionGroup var arguments: LabelledDataArguments
    @Option(help: "Where to write the report.") var out: String = "interpret.html"

    func run() throws {
        let p = try LabelledPredictions(arguments)
        let html = ReportBuilder.interpretation(probabilities: p.probabilities, items: p.items, classes: p.saved.classes, problems: p.skipped,
                                                cache: p.saved.presizeCache,
                                                title: "Quadrat — error analysis on \(URL(fileURLWithPath: arguments.data).lastPathComponent)")
        try html.write(toFile: out, atomically: true, encoding: .utf8)
        print(String(format: "accuracy %.4f on %d images; report: %@", Metrics.accuracy(probabilities: p.probabilities, labels: p.labels), p.items.count, out))
    }
}
