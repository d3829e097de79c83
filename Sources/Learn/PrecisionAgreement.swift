import Foundation
import Torch

/// How far bfloat16 inference agrees with float32 on the same photos: decisions that change and the largest change
/// of a probability. `train --precision auto` keeps bf16 for inference (TTA, and later `predict` and `serve`) only
/// when it agrees on the validation set: speed alone chose bf16 on an Intel Xeon with AMX, where predicting ELPV's
/// held-out cells in bf16 changed 11 of 656 decisions and cost 0.45 points of accuracy.
public struct PrecisionAgreement: Sendable, Equatable {
    /// Photos compared.
    public var count: Int
    /// Photos whose most probable class differs between the two precisions.
    public var changedDecisions: Int
    /// The largest absolute difference of one class probability.
    public var largestChange: Double
    /// Accuracy of each precision's decisions against the labels.
    public var accuracyFP32: Double, accuracyBF16: Double

    /// At most one decision in ``tolerance`` may change, and bf16 must not score lower.
    public static let tolerance = 200

    /// True when bf16 may stand in for fp32: at most one changed decision in ``tolerance`` photos (none on fewer)
    /// and no lower accuracy.
    public var agrees: Bool { changedDecisions * Self.tolerance <= count && accuracyBF16 >= accuracyFP32 }

    /// Compares two sets of probabilities of the same photos in the same order.
    public init(fp32: [[Double]], bf16: [[Double]], labels: [Int]) {
        count = labels.count
        changedDecisions = zip(fp32, bf16).filter { Metrics.argmax($0) != Metrics.argmax($1) }.count
        largestChange = zip(fp32, bf16).map { a, b in zip(a, b).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        accuracyFP32 = Metrics.accuracy(probabilities: fp32, labels: labels)
        accuracyBF16 = Metrics.accuracy(probabilities: bf16, labels: labels)
    }

    /// One line for the terminal: "bf16 inference kept: 0 of 393 validation decisions changed, …".
    public var summary: String {
        String(
            format: "bf16 inference %@: %d of %d validation decisions changed, largest probability change %.4f, "
                + "accuracy %.4f (fp32 %.4f)",
            agrees ? "kept" : "refused, fp32 used", changedDecisions, count, largestChange, accuracyBF16, accuracyFP32)
    }
}

extension Learner {
    /// Predicts `source` in float32 and in bfloat16 autocast and compares them; the learner's precision is
    /// left as it was.
    public func precisionAgreement(on source: BatchSource) throws -> PrecisionAgreement {
        let saved = inferenceMixedPrecision
        defer { inferenceMixedPrecision = saved }
        inferenceMixedPrecision = false
        let fp32 = try predict(source)
        inferenceMixedPrecision = true
        let bf16 = try predict(source)
        return PrecisionAgreement(fp32: fp32.probabilities, bf16: bf16.probabilities, labels: fp32.labels)
    }
}
