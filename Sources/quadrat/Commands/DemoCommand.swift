import ArgumentParser
import Foundation
import Learn
import Torch
import Vision

/// `quadrat demo`: the main job on real data, no arguments.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Train on the ELPV solar-cell photos, predict a held-out test folder with TTA, and score it.",
        discussion: """
        Lays ELPV out in the Kaggle layout (train/, train_labels.csv with name,defective, test/, and the test labels
        apart in answers/), trains with the default recipe (dihedral augmentation: flips and quarter turns only), writes a submission for test/
        and prints the held-out accuracy and ROC AUC. Needs `make setup` first (make demo does it).
        """
    )

    @Option(help: "Where to put the data layout and the run.")
    var workdir: String = "runs/demo"
    @OptionGroup var flags: TrainFlags

    func run() throws {
        let start = Date()
        let root = URL(fileURLWithPath: workdir)
        let data = root.appendingPathComponent("elpv")
        let counts = try ELPVLayout.write(to: data)
        emit("demo: ELPV laid out in \(data.path): \(counts.train) training images, \(counts.test) held-out test images")
        var options = try flags.options(data: data.path, out: root.appendingPathComponent("run").path)
        // ELPV cells are aligned, photographed from above, and their brightness is evidence (`quadrat explore`
        // shows defective cells darker by about one standard deviation): the eight symmetries of the square only,
        // unless a flag or the config says otherwise.
        if flags.augmentation == nil && options.augmentation == TrainOptions(data: "", out: "").augmentation { options.augmentation = "dihedral" }
        // The cells are 300 px; cracks are thin. 256 px scored better on validation than Lite0's 224.
        if options.size == nil { options.size = 256 }
        let outcome = try TrainingRun(options: options).run()

        let testStart = Date()
        let saved = try SavedModel(outcome.modelURL)
        let test = try DataSource.unlabelled(data.appendingPathComponent("test"))
        let (probabilities, items, _) = try saved.predict(test, ttaViews: options.recipe.ttaViews, augmentation: saved.augmentation, mixedPrecision: options.recipe.mixedPrecision)
        let submission = root.appendingPathComponent("submission.csv")
        try SubmissionFormat.kaggle.render(probabilities: probabilities, items: items.map { test.items[$0] }, classes: saved.classes, labelColumn: "defective")
            .write(to: submission, atomically: true, encoding: .utf8)
        let answers = try DataSource.csv(images: data.appendingPathComponent("test"), labels: data.appendingPathComponent("answers/test_labels.csv"), classes: saved.classes)
        let truth = Dictionary(uniqueKeysWithValues: answers.items.map { ($0.name, $0.label ?? 0) })
        let labels = items.map { truth[test.items[$0].name] ?? 0 }
        let accuracy = Metrics.accuracy(probabilities: probabilities, labels: labels)
        let auc = Metrics.rocAUC(probabilities: probabilities, labels: labels)
        let testSeconds = Date().timeIntervalSince(testStart)
        emit("")
        emit(String(format: "held-out test (%d images, TTA): accuracy %.2f%%, ROC AUC %.4f", labels.count, accuracy * 100, auc))
        emit(String(format: "validation (TTA): accuracy %.2f%%, ROC AUC %.4f", outcome.validAccuracy * 100, outcome.validAUC))
        emit("time: " + outcome.times.order.map { String(format: "%@ %.0fs", $0, outcome.times.phases[$0] ?? 0) }.joined(separator: ", ")
             + String(format: ", test prediction %.0fs, whole demo %.0fs", testSeconds, Date().timeIntervalSince(start)))
        emit("submission: \(submission.path)")
        emit("report: \(outcome.reportURL.path)")
    }
}
