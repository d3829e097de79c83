import Foundation
import Learn
import Torch
import Vision

/// `predict`'s deployment check: whether new photos look like the training ones (``DriftReference``), said in one
/// line with how many photos to check by hand, and optionally each photo's figures in a CSV (`--drift-report`).
public struct DeploymentCheck {
    /// Each predicted photo's distance to the training photos and whether it lies beyond the reference's threshold.
    public var distances: [Double]
    public var beyond: [Bool]
    /// Whether each photo is answered unknown (beyond the reference's unknown threshold; all false without one), and
    /// the share of validation that threshold refused (nil: the reference has none).
    public var unknown: [Bool] = []
    public var unknownRate: Double?
    /// The mean highest probability of the new photos, and validation's.
    public var confidence: Double, validationConfidence: Double

    public init(distances: [Double], beyond: [Bool], confidence: Double, validationConfidence: Double) {
        (self.distances, self.beyond, self.confidence) = (distances, beyond, confidence)
        self.validationConfidence = validationConfidence
    }

    /// Checks the photos `items` (those predicted) with their calibrated `probabilities` and, when the prediction kept
    /// them, their pooled `features` (a row per item); nil when the model has no reference beside it.
    public static func run(
        _ model: SavedModel, items: [ImageItem], probabilities: [[Double]], features: Tensor? = nil
    ) throws -> DeploymentCheck? {
        guard let reference = try DriftReference.beside(model) else { return nil }
        // The prediction's own features when it kept them (a row per item), else a pass of the check's own.
        let (unit, kept) =
            try features.flatMap {
                $0.shape[0] == items.count ? (try DriftReference.unit($0), Array(items.indices)) : nil
            }
            ?? DriftReference.features(model, items: items)
        var distances = [Double](repeating: .nan, count: items.count)
        for (row, d) in zip(kept, try reference.distances(unit)) { distances[row] = d }
        var check = DeploymentCheck(
            distances: distances, beyond: distances.map { $0 > reference.threshold },
            confidence: probabilities.map { $0.max() ?? 0 }.reduce(0, +) / Double(max(1, probabilities.count)),
            validationConfidence: reference.validationConfidence)
        (check.unknown, check.unknownRate) = (
            reference.unknown(distances),
            reference.unknownThreshold.flatMap { _ in
                reference.unknownRate
            }
        )
        return check
    }

    /// Photos to check by hand to know their accuracy within ±10 points (95 %; normal approximation at p = ½ with
    /// the finite-population correction): 96 for many photos, fewer for few.
    public static func sampleSize(of population: Int, margin: Double = 0.10) -> Int {
        let n0 = 1.96 * 1.96 * 0.25 / (margin * margin)
        return min(population, Int((n0 / (1 + (n0 - 1) / Double(max(population, 1)))).rounded(.up)))
    }

    /// The line `predict` prints: a warning when clearly more photos than the 1 % validation allows lie beyond the
    /// threshold (more than 1 % + 3 standard deviations of a binomial count), else a plain count.
    public var summary: String {
        let n = beyond.count, far = beyond.filter { $0 }.count
        let expected = 0.01 * Double(n), spread = (Double(n) * 0.01 * 0.99).squareRoot()
        let confidenceText = String(format: "mean confidence %.2f (validation %.2f)", confidence, validationConfidence)
        if Double(far) > expected + 3 * spread + 1 {
            return "deployment check: \(far) of \(n) photos lie farther from the training photos than 99 % of "
                + "validation did: expect lower accuracy than validation's; check a sample of "
                + "\(Self.sampleSize(of: far)) of them by hand (±10 points at 95 %); \(confidenceText)"
        }
        return "deployment check: \(far) of \(n) photos lie farther from the training photos than 99 % of validation "
            + "did, as expected of photos like the training ones; \(confidenceText)"
    }

    /// The line on the unknown answer (nil when the reference has no unknown threshold).
    public var unknownSummary: String? {
        guard let unknownRate else { return nil }
        let n = unknown.filter { $0 }.count
        return String(
            format: "unknown: %d of %d photos look like none of the classes (farther from the training photos than "
                + "%.0f %% of validation): marked unknown", n, unknown.count, (1 - unknownRate) * 100)
    }

    /// `name,distance,beyond,unknown,confidence,decided`: one row per photo.
    public func csv(
        items: [ImageItem], probabilities: [[Double]], decide: ([Double]) -> Int, classes: [String]
    ) -> String {
        var text = "name,distance,beyond_validation_99,unknown,confidence,decided\n"
        for (i, item) in items.enumerated() {
            text +=
                CSVTable.row([
                    item.name, distances[i].isNaN ? "" : String(format: "%.5f", distances[i]), beyond[i] ? "1" : "0",
                    i < unknown.count && unknown[i] ? "1" : "0",
                    String(format: "%.4f", probabilities[i].max() ?? 0), classes[decide(probabilities[i])],
                ]) + "\n"
        }
        return text
    }
}
