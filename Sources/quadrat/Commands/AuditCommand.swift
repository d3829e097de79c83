import ArgumentParser
import Foundation
import Learn
import Torch
import Vision
import Workflow

extension ConfidentLearning.Ranking: ExpressibleByArgument {}

/// `quadrat audit DATA`: likely label errors.
struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Find photos whose labels look wrong (confident learning on out-of-fold predictions).",
        discussion: """
            Trains one head per fold on the pretrained network's features (the network itself is not fine-tuned, \
            so no photo influences its own prediction), predicts every photo from the fold that left it out, and \
            flags the photos whose out-of-fold prediction confidently says another class. Writes OUT/audit.csv \
            (every photo, most suspicious first) and OUT/audit.html (the top photos with their evidence), and \
            prints the cross-validated accuracy of that head.

            Example: quadrat audit ~/invasive --out audit --folds 5
            """
    )

    @Argument(help: "A labelled data folder or labels CSV.") var data: String
    @Option(help: "Folder for audit.csv and audit.html.") var out = "audit"
    @Option(help: "Folds for the out-of-fold predictions.") var folds = 5
    @Option(help: "The pretrained network giving the features.") var arch: Architecture = .efficientNetLite0
    @Option(
        help: ArgumentHelp(
            "Input size (default: the network's own). Larger helps when the evidence is small: on ELPV's cracks "
                + "320 beat 224 (47 % against 41 % uncertain labels in the top 100)."))
    var size: Int?
    @Option(help: "Head epochs per fold.") var epochs = 6
    @Option(
        help: ArgumentHelp(
            "Also average the features of this many symmetries of each photo (flips and quarter turns, 0–7); "
                + "each costs one more pass. For photos with no up or down: cells, micrographs, tiles.",
            valueName: "count"))
    var views = 0
    @Option(
        help: ArgumentHelp(
            "Draw the folds this many times and average each photo's out-of-fold probabilities (heads train in "
                + "seconds; the mean is steadier)."))
    var repeats = 3
    @Option(help: "Order of the suspects: self-confidence or normalized-margin.")
    var ranking: ConfidentLearning.Ranking = .selfConfidence
    @Option(help: "Photos shown on the page.") var top = 100
    @Option(
        name: .customLong("group-by"),
        help: "Keep photos that belong together in one fold: a column of the labels CSV, or 'burst' (EXIF times).")
    var groupBy: String?
    @Option(help: "The most time between two photos of one burst for --group-by burst, e.g. 60s, 5m (default 60s).")
    var burstGap = TimeSpan(seconds: 60)
    @Flag(help: "Let near-duplicate photos fall into different folds (by default each cluster stays in one).")
    var splitDuplicates = false
    @Option(help: "Seed of the folds and the heads.") var seed: UInt64 = 42
    @Option(
        help: ArgumentHelp(
            "Audit these out-of-fold predictions (RUN/oof_predictions.csv of train --folds K: fine-tuned models) "
                + "instead of training heads on features.", valueName: "csv"))
    var predictions: String?
    @Option(
        help: """
            single-label (default) or multi-label: the label column lists several labels per photo, and each label \
            is audited against the rest (one-vs-rest confident learning).
            """)
    var task: TaskKind = .singleLabel
    @Option(help: "Multi-label: what separates a photo's labels (default: a space).")
    var labelDelimiter = " "
    @OptionGroup var columns: CSVColumns
    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        guard folds >= 2 else { throw ValidationError("--folds must be at least 2") }
        guard epochs >= 1, top >= 1 else { throw ValidationError("--epochs and --top must be at least 1") }
        guard repeats >= 1 else { throw ValidationError("--repeats must be at least 1, not \(repeats)") }
        guard (0...7).contains(views) else { throw ValidationError("--views must be 0 to 7, not \(views)") }
        if let size, !(32...1024).contains(size) { throw ValidationError("--size must be 32 to 1024, not \(size)") }
        if task.task.decidesEachClass, predictions != nil {
            throw ValidationError("--predictions is for single-label audits")
        }
    }

    /// The audit's settings from the flags, for either task.
    func auditOptions() -> LabelAudit.Options {
        var options = LabelAudit.Options()
        (options.folds, options.architecture, options.size) = (folds, arch, size)
        (options.epochs, options.seed, options.ranking, options.views) = (epochs, seed, ranking, views)
        options.repeats = repeats
        options.grouping = SplitGrouping(
            column: groupBy, burstGap: burstGap.seconds, keepCopiesTogether: !splitDuplicates,
            nameColumn: columns.nameColumn)
        return options
    }

    func run() throws {
        Torch.useAllCores()
        let dataset = try task.workflow.labelled(
            URL(fileURLWithPath: data),
            columns: LabelColumns(name: columns.nameColumn, label: columns.labelColumn, delimiter: labelDelimiter),
            among: nil)
        for p in dataset.problems { Console.warn("left out: \(p)") }
        let folder = URL(fileURLWithPath: out)
        let title = "Quadrat — label audit of \(URL(fileURLWithPath: data).lastPathComponent)"
        if let predictions {
            try auditPredictions(predictions, dataset: dataset, title: title, to: folder)
        } else {
            try task.workflow.audit(dataset, options: auditOptions(), top: top, title: title, to: folder) {
                print($0)
            }
        }
        print("wrote \(folder.appendingPathComponent("audit.csv").path) and audit.html")
    }

    /// `--predictions`: confident learning on a cross-validated run's out-of-fold predictions (one class per photo).
    func auditPredictions(_ predictions: String, dataset: ImageDataset, title: String, to folder: URL) throws {
        let outcome = try LabelAudit.audit(
            predictions: URL(fileURLWithPath: predictions), dataset: dataset, ranking: ranking)
        for p in outcome.skipped { Console.warn("skipped: \(p)") }
        let summary = LabelAudit.summary(outcome, folds: folds, repeats: repeats, predictions: predictions)
        for line in summary { print(line) }
        try LabelAudit.writeReport(
            outcome, classes: dataset.classes, summary: summary, top: top, title: title, to: folder)
    }
}
