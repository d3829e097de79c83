import ArgumentParser
import Foundation
import Learn
import Workflow

extension ModelExport.Format: ExpressibleByArgument {}

/// `quadrat export MODEL`: the model for other tools.
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a trained model for other tools: inference weights and a description of their input.",
        discussion: """
            safetensors: MODEL-inference.safetensors (weights only: no optimizer state or history; keys body.* and \
            head.*) and MODEL-inference.json (architecture, classes, input size, normalisation, preprocessing).
            Example: quadrat export runs/invasive/model.safetensors --out invasive.safetensors
            """
    )

    @Argument(help: "The model file written by `quadrat train`.")
    var model: String
    @Option(help: "Output format: \(ModelExport.Format.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: ModelExport.Format = .safetensors
    @Option(help: "Where to write (default: beside MODEL, named MODEL-inference.safetensors).")
    var out: String?

    func run() throws {
        let url = URL(fileURLWithPath: model)
        let saved = try SavedModel(url)
        let target =
            out.map { URL(fileURLWithPath: $0) }
            ?? url.deletingLastPathComponent().appendingPathComponent(
                url.deletingPathExtension().lastPathComponent + "-inference.safetensors")
        switch format {
        case .safetensors:
            let (weights, description) = try ModelExport.safetensors(saved, to: target)
            print("weights: \(weights.path)\ndescription: \(description.path)")
        }
    }
}
