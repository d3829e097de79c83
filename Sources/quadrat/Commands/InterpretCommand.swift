import ArgumentParser
import Foundation
import Workflow

/// `quadrat interpret MODEL DATA`.
struct InterpretCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "interpret",
        abstract: "Error analysis of a model on a labelled folder, as an HTML report.",
        discussion: "Example: quadrat interpret runs/invasive/model.safetensors ~/invasive-holdout --out interpret.html"
    )

    @OptionGroup var arguments: LabelledDataArguments
    @OptionGroup var device: DeviceOptions
    @Option(help: "Where to write the report.") var out: String = "interpret.html"

    func run() throws {
        let title = "Quadrat — error analysis on \(URL(fileURLWithPath: arguments.data).lastPathComponent)"
        print(
            try InterpretationReport.write(
                arguments.predictions(), tta: arguments.tta, title: title, to: URL(fileURLWithPath: out)))
    }
}
