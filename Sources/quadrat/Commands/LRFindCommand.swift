import ArgumentParser
import Foundation
import Torch
import Vision
import Workflow

/// `quadrat lr-find DATA`.
struct LRFindCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lr-find",
        abstract: "The learning-rate range test for the new head: prints the suggestions and plots the curve.",
        discussion: "Example: quadrat lr-find ~/invasive --out lr_find.html"
    )

    @Argument(help: "A labelled data folder or labels CSV.") var data: String
    @Option(help: "Architecture.") var arch: String = Architecture.efficientNetLite0.rawValue
    @Option(help: "Input size (default: the architecture's).") var size: Int?
    @Option(help: "Checkpoint for the body (ResNets).") var weights: String?
    @Option(help: "Where to write the plot (the curve also goes to the same name with .csv).")
    var out: String = "lr_find.html"
    @Option(help: "Precompute in auto (fp32, as train's LR finder does), fp32 or bf16.")
    var precision: Precision = .auto

    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var columns: CSVColumns
    @OptionGroup var device: DeviceOptions

    func validate() throws {
        if let size, !(32...1024).contains(size) { throw ValidationError("--size must be 32 to 1024, not \(size)") }
        if precision == .int8 { throw ValidationError("--precision int8 is for inference: use auto, fp32 or bf16") }
    }

    func run() throws {
        Torch.useAllCores()
        var job = LRFinding(data: URL(fileURLWithPath: data))
        (job.architecture, job.size, job.precision) = (try Architecture(named: arch), size, precision)
        (job.weights, job.nameColumn, job.labelColumn) = (
            weights.map { URL(fileURLWithPath: $0) }, columns.nameColumn, columns.labelColumn
        )
        try job.run(page: URL(fileURLWithPath: out)) { print($0) }
    }
}
