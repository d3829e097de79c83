import ArgumentParser
import Foundation
import Learn
import Report
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
    @Option(help: "Precompute in auto (as measured by `train` on this machine; fp32 before that), fp32 or bf16.")
    var precision: Precision = .auto

    @OptionGroup var limits: ImageLimitOptions
    @OptionGroup var columns: CSVColumns

    func validate() throws {
        if let size, !(32...1024).contains(size) { throw ValidationError("--size must be 32 to 1024, not \(size)") }
    }

    func run() throws {
        Torch.useAllCores()
        let architecture = try Architecture(named: arch)
        let size = self.size ?? architecture.defaultSize
        let dataset = try columns.labelled(data)
        let cache = PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: size))
        cache.fill(dataset.items)
        let classifier = try Classifier(
            architecture, classes: dataset.classes, weights: weights.map { URL(fileURLWithPath: $0) })
        let loader = DataLoader(dataset, size: size, normalization: architecture.normalization, cache: cache)
        let profile = MachineProfile.stored(architecture: architecture, size: size, batchSize: 32)
        let bf16 = precision == .auto ? (profile?.infersInBF16(.auto) ?? false) : precision == .bf16
        let result = try classifier.findHeadLearningRate(loader, mixedPrecision: bf16)
        print(
            String(
                format: "suggested learning rate: %.2e (a tenth of the lowest loss's: what train uses), "
                    + "%.2e (valley), %.2e (steepest)", result.minimum, result.valley, result.steepest))
        let page = ReportBuilder.lrFinderPage(
            result, title: "Quadrat — LR finder on \(URL(fileURLWithPath: data).lastPathComponent)")
        try AtomicFile.write(page, to: URL(fileURLWithPath: out))
        let csv = URL(fileURLWithPath: out).deletingPathExtension().appendingPathExtension("csv")
        let rows = zip(result.rates, result.losses).map { "\($0),\($1)\n" }.joined()
        try AtomicFile.write("learning_rate,smoothed_loss\n" + rows, to: csv)
        print("plot: \(out); curve: \(csv.path)")
    }
}
