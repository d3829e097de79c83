import Foundation
import Learn
import Report
import Torch
import Vision

/// `quadrat lr-find`'s job: the LR range test for the new head on the data's precomputed activations, exactly as
/// `train` runs it (fp32 unless bf16 is forced, the same presize), then the plot and the curve as CSV. Every line
/// goes to `say`.
public struct LRFinding {
    public var data: URL
    public var architecture = Architecture.efficientNetLite0
    public var size: Int?
    public var weights: URL?
    /// fp32 under `auto`, as `train`'s LR finder runs; bf16 only when asked.
    public var precision = Precision.auto
    public var nameColumn: String?
    public var labelColumn: String?

    public init(data: URL) { self.data = data }

    @discardableResult
    public func run(page: URL, say: (String) -> Void) throws -> LRFinderResult {
        let size = self.size ?? architecture.defaultSize
        let dataset = try DataSource.labelled(data, nameColumn: nameColumn, labelColumn: labelColumn)
        let cache = PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: size))
        cache.fill(dataset.items)
        let classifier = try Classifier(architecture, classes: dataset.classes, weights: weights)
        let loader = DataLoader(dataset, size: size, normalization: architecture.normalization, cache: cache)
        let result = try classifier.findHeadLearningRate(loader, mixedPrecision: precision == .bf16)
        let used = TrainingRun.headRate(suggested: result.minimum)
        say(
            String(
                format: "suggested learning rate: %.2e (a tenth of the lowest loss's), %.2e (valley), %.2e (steepest); "
                    + "train would use %.2e", result.minimum, result.valley, result.steepest, used)
                + (used == result.minimum
                    ? ""
                    : String(
                        format: " (kept within %.0e to %.0e)", TrainingRun.headRateRange.lowerBound,
                        TrainingRun.headRateRange.upperBound)))
        let html = ReportBuilder.lrFinderPage(result, title: "Quadrat — LR finder on \(data.lastPathComponent)")
        try AtomicFile.write(html, to: page)
        let csv = page.deletingPathExtension().appendingPathExtension("csv")
        let rows = zip(result.rates, result.losses).map { "\($0),\($1)\n" }.joined()
        try AtomicFile.write("learning_rate,smoothed_loss\n" + rows, to: csv)
        say("plot: \(page.path); curve: \(csv.path)")
        return result
    }
}
