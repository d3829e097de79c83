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
        let html = try ReportBuilder.interpretation(
            probabilities: p.probabilities, items: p.items, classes: p.saved.classes, problems: p.skipped,
            cache: p.saved.presizeCache,
            title: "Quadrat — error analysis on \(URL(fileURLWithPath: arguments.data).lastPathComponent)")
        try AtomicFile.write(html, to: URL(fileURLWithPath: out))
        print(
            String(
                format: "accuracy %.4f on %d images; report: %@",
                Metrics.accuracy(probabilities: p.probabilities, labels: p.labels), p.items.count, out))
    }
}
