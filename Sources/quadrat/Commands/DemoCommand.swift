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
    @OptionGroup var flags: TrainFlags

    func run() throws {
        let start = Date()
        let root = URL(fileURLWithPath: workdir)
        // The demo's defaults (dihedral, 256 px) unless a flag or the config says otherwise.
        let options = try flags.options(over: DemoRun.defaultOptions(workdir: root))
        let outcome = try DemoRun(workdir: root, options: options, cells: cells).run()
        let times = outcome.training.times
        emit("")
        emit(
            String(
                format: "held-out test (%d images, TTA): accuracy %.2f%%, ROC AUC %.4f",
                outcome.testCount, outcome.testAccuracy * 100, outcome.testAUC))
        emit(
            String(
                format: "validation (TTA): accuracy %.2f%%, ROC AUC %.4f",
                outcome.training.validAccuracy * 100, outcome.training.validAUC))
        emit(
            "time: " + times.order.map { String(format: "%@ %.0fs", $0, times.phases[$0] ?? 0) }.joined(separator: ", ")
                + String(
                    format: ", test prediction %.0fs, whole demo %.0fs", outcome.testSeconds,
                    Date().timeIntervalSince(start)))
        emit("submission: \(outcome.submissionURL.path)")
        emit("report: \(outcome.training.reportURL.path)")
    }
}
