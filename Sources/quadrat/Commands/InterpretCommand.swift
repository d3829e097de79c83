import ArgumentParser
import Foundation
import Learn
import Report
import Torch
import Workflow

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
        let p = try arguments.predictions()
        let saved = p.saved, items = p.items
        let calibration = saved.calibration(tta: arguments.tta)
        var evaluation = EvaluationInput(
            probabilities: p.probabilities, items: items, classes: saved.classNames, calibration: calibration,
            // Undo the temperature for the reliability diagram's "before": (p^(1/T))^T renormalised is p.
            uncalibrated: calibration.map { c in
                p.probabilities.map { Calibration.scaled($0, temperature: 1 / c.temperature) }
            },
            heatMap: { saved.heatMapOverlay(of: items[$0].url) }, heading: "Error analysis")
        evaluation.set = .labelled
        emit("writing the report: Grad-CAM heat maps of the photos it shows…")
        let started = Date()
        let html = try ReportBuilder.interpretation(
            evaluation, problems: p.skipped, cache: saved.presizeCache,
            title: "Quadrat — error analysis on \(URL(fileURLWithPath: arguments.data).lastPathComponent)")
        try AtomicFile.write(html, to: URL(fileURLWithPath: out))
        let decisions = p.probabilities.map { calibration?.decide($0) ?? Metrics.argmax($0) }
        print(
            String(
                format: "accuracy %.4f on %d images%@ (report written in %.0f s): %@",
                Metrics.accuracy(decisions: decisions, labels: p.labels), p.items.count,
                calibration?.threshold.map { " at threshold \(Calibration.thresholdText($0))" } ?? "",
                Date().timeIntervalSince(started), out))
    }
}
