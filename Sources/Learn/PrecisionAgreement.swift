import Foundation
import Torch
import Vision

/// How far bfloat16 inference agrees with float32 on the same photos: decisions that change and the largest change
/// of a probability. `train --precision auto` keeps bf16 for inference (TTA, and later `predict` and `serve`) only
/// when it agrees on the validation set: speed alone chose bf16 on an Intel Xeon with AMX, where predicting ELPV's
/// held-out cells in bf16 changed 11 of 656 decisions and cost 0.45 points of accuracy.
public struct PrecisionAgreement: Sendable, Equatable {
    /// Photos compared.
    public var count: Int
    /// Photos whose decisions (the most probable class, or the labels at 0.5) differ between the two precisions.
    public var changedDecisions: Int
    /// The largest absolute difference of one class probability.
    public var largestChange: Double
    /// The share of photos whose decisions are all right (accuracy; the exact-match ratio for multi-label), in each
    /// precision.
    public var accuracyFP32: Double, accuracyBF16: Double

    /// At most one decision in ``tolerance`` may change, and bf16 must not score lower.
    public static let tolerance = 200

    /// True when bf16 may stand in for fp32: at most one changed decision in ``tolerance`` photos (none on fewer)
    /// and no lower accuracy.
    public var agrees: Bool { changedDecisions * Self.tolerance <= count && accuracyBF16 >= accuracyFP32 }

    /// Compares two sets of probabilities of the same photos in the same order; `labels` as a ``Learner`` returns
    /// them for `task`.
    public init(
        fp32: [[Double]], bf16: [[Double]], labels: [Int], task: any ClassificationTask = SingleLabelTask()
    ) {
        let truth = task.truth(labels, labelCount: fp32.first?.count ?? 0)
        let (decided32, decided16) = (fp32.map(task.plainDecisions), bf16.map(task.plainDecisions))
        count = truth.count
        changedDecisions = zip(decided32, decided16).filter { $0 != $1 }.count
        largestChange = zip(fp32, bf16).map { a, b in zip(a, b).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        func accuracy(_ decided: [[Bool]]) -> Double {
            truth.isEmpty ? .nan : Double(zip(decided, truth).filter { $0 == $1 }.count) / Double(truth.count)
        }
        (accuracyFP32, accuracyBF16) = (accuracy(decided32), accuracy(decided16))
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
        // Both as a model read back to predict runs them (`SavedModel`): through oneDNN directly where it can.
        let (fp32, bf16) = try Classifier.evaluatingThroughOneDNN(model) {
            inferenceMixedPrecision = false
            let fp32 = try predict(source)
            inferenceMixedPrecision = true
            return (fp32, try predict(source))
        }
        return PrecisionAgreement(
            fp32: fp32.probabilities, bf16: bf16.probabilities, labels: fp32.labels, task: task)
    }
}
