import ArgumentParser
import Foundation
import Workflow

/// The options the demo trains with unless flags say otherwise, quoted in its help.
private let demoDefaults = DemoRun.defaultOptions(workdir: URL(fileURLWithPath: "."))

/// `quadrat demo`: the main job on real data, no arguments.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train on the ELPV solar-cell photos, predict a held-out test folder with TTA, and score it.",
        discussion: """
            Lays ELPV out in the Kaggle layout (train/, train_labels.csv with name,defective, test/, and the test labels
            apart in answers/), trains with the default recipe (dihedral augmentation: flips and quarter turns only, 256 px),
            scores test/ against the answers after training (the report leads with that held-out score), writes a
            submission for test/ and prints the held-out accuracy and ROC AUC. Needs `make setup` first (make demo does it).

            The demo's own defaults: --augmentation \(demoDefaults.augmentation), --size \(demoDefaults.size ?? 0), \
            --tta \(demoDefaults.recipe.ttaViews). \
            The training options below show train's defaults; any of them given here overrides the demo's.
            """
    )

    @Option(help: "Where to put the data layout and the run.")
    var workdir: String = "runs/demo"
    @Option(help: "Use a stratified subset of this many ELPV cells (a small set; default: all 2,624).")
    var cells: Int?
    @Flag(
        help: """
            Multi-label: tag each cell with its type (mono or poly) and defective when it is, and train with \
            --task multi-label on the same split.
            """)
    var multiLabel = false
    @OptionGroup var flags: TrainFlags
    @OptionGroup var device: DeviceOptions

    func run() throws {
        let start = Date()
        let root = URL(fileURLWithPath: workdir)
        // The demo's defaults (dihedral, 256 px) unless a flag or the config says otherwise.
        var base = DemoRun.defaultOptions(workdir: root)
        if multiLabel { base.task = .multiLabel }
        let options = try flags.options(over: base)
        let outcome = try DemoRun(workdir: root, options: options, cells: cells).run()
        let times = outcome.training.times
        emit("")
        emit(
            String(
                format: "held-out test (%d images, TTA): %@ %.2f%%, %@ %.4f", outcome.testCount,
                outcome.heldOut.names.accuracy, outcome.testAccuracy * 100, outcome.heldOut.names.rocAUC,
                outcome.testAUC))
        if let labels = outcome.heldOut.labelScores {
            for (name, (label, accuracy)) in zip(
                outcome.classes, zip(labels.labels, outcome.heldOut.labelAccuracies))
            {
                emit(
                    String(
                        format: "  %@: accuracy %.2f%%, ROC AUC %.4f, F1 %.4f, average precision %.4f", name,
                        accuracy * 100, label.rocAUC, label.f1, label.averagePrecision))
            }
        }
        emit(
            String(
                format: "validation (TTA): %@ %.2f%%, %@ %.4f", outcome.heldOut.names.accuracy,
                outcome.training.validAccuracy * 100, outcome.heldOut.names.rocAUC, outcome.training.validAUC))
        emit(
            "time: " + times.order.map { String(format: "%@ %.0fs", $0, times.phases[$0] ?? 0) }.joined(separator: ", ")
                + String(
                    format: ", test prediction %.0fs, whole demo %.0fs", outcome.testSeconds,
                    Date().timeIntervalSince(start)))
        emit("submission: \(outcome.submissionURL.path)")
        emit("report: \(outcome.training.reportURL.path)")
    }
}
