import Foundation

/// Scores of a multi-label model: each photo may have any number of labels (none included), each label decided on
/// its own at its threshold. The definitions are scikit-learn's (checked against it: `scripts/fixtures/multilabel.py`)
/// and fastai's `accuracy_multi`.
public struct MultiLabelScores: Sendable, Equatable {
    /// One label's scores against the photos that have it and those that do not.
    public struct Label: Sendable, Equatable {
        /// Of the photos decided to have the label, the share that have it (0 when none is decided so).
        public var precision: Double
        /// Of the photos that have the label, the share decided so (0 when none has it).
        public var recall: Double
        /// The harmonic mean of precision and recall.
        public var f1: Double
        /// NaN when every photo has the label, or none does.
        public var rocAUC: Double
        /// The area under the precision-recall curve as scikit-learn's `average_precision_score` sums it.
        public var averagePrecision: Double
    }

    /// Each label's scores, in the order of the columns.
    public var labels: [Label]
    /// The mean of the labels' F1 (each label counts the same).
    public var macroF1: Double
    /// F1 of every (photo, label) decision pooled (frequent labels count more).
    public var microF1: Double
    /// The mean of the labels' average precision. A label no photo has is left out (scikit-learn would count it as 0).
    public var meanAveragePrecision: Double
    /// The share of photos whose decided set is exactly right.
    public var exactMatch: Double
    /// The share of (photo, label) decisions that are right (fastai's `accuracy_multi`).
    public var accuracyMulti: Double

    /// Scores of `probabilities` (one row per photo, one column per label) against the true `labels` (a row of 0/1
    /// per photo), each label decided positive at probability ≥ its threshold. Rows of another length than
    /// `thresholds` are refused.
    public init(probabilities: [[Double]], labels: [[Bool]], thresholds: [Double]) throws {
        let count = thresholds.count
        guard probabilities.count == labels.count,
            (probabilities + labels.map { $0.map { $0 ? 1.0 : 0 } }).allSatisfy({ $0.count == count })
        else {
            throw LearnError(
                "multi-label scores need one row of \(count) probabilities and one of \(count) labels per photo")
        }
        let decided = probabilities.map { row in zip(row, thresholds).map { $0 >= $1 } }
        var (allTP, allFP, allFN) = (0, 0, 0)
        self.labels = (0..<count).map { k in
            let truth = labels.map { $0[k] }, guess = decided.map { $0[k] }
            let tp = zip(truth, guess).filter { $0 && $1 }.count
            let fp = zip(truth, guess).filter { !$0 && $1 }.count
            let fn = zip(truth, guess).filter { $0 && !$1 }.count
            (allTP, allFP, allFN) = (allTP + tp, allFP + fp, allFN + fn)
            let scores = probabilities.map { $0[k] }
            return Label(
                precision: Self.ratio(tp, tp + fp), recall: Self.ratio(tp, tp + fn),
                f1: Self.ratio(2 * tp, 2 * tp + fp + fn),
                rocAUC: Metrics.rocAUC(scores: scores, positives: truth),
                averagePrecision: Self.averagePrecision(scores: scores, positives: truth))
        }
        macroF1 = self.labels.map(\.f1).reduce(0, +) / Double(max(1, count))
        microF1 = Self.ratio(2 * allTP, 2 * allTP + allFP + allFN)
        let precisions = self.labels.map(\.averagePrecision).filter { !$0.isNaN }
        meanAveragePrecision = precisions.isEmpty ? .nan : precisions.reduce(0, +) / Double(precisions.count)
        exactMatch = Self.ratio(zip(decided, labels).filter { $0 == $1 }.count, labels.count)
        let right = zip(decided, labels).map { zip($0, $1).filter { $0 == $1 }.count }.reduce(0, +)
        accuracyMulti = Self.ratio(right, labels.count * count)
    }

    /// The precision-recall curve: (recall, precision) at each distinct score from the highest down, the steps
    /// ``averagePrecision(scores:positives:)`` sums; empty without a positive.
    public static func precisionRecallCurve(
        scores: [Double], positives: [Bool]
    ) -> [(recall: Double, precision: Double)] {
        let total = positives.filter { $0 }.count
        guard total > 0 else { return [] }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var (tp, fp, points) = (0, 0, [(recall: Double, precision: Double)]())
        var i = 0
        while i < order.count {
            let score = scores[order[i]]
            repeat {
                if positives[order[i]] { tp += 1 } else { fp += 1 }
                i += 1
            } while i < order.count && scores[order[i]] == score
            points.append((Double(tp) / Double(total), Double(tp) / Double(tp + fp)))
        }
        return points
    }

    /// Σ (Rₙ − Rₙ₋₁) Pₙ over the distinct scores from the highest down (ties share one step), as scikit-learn's
    /// `average_precision_score`; NaN without a positive.
    public static func averagePrecision(scores: [Double], positives: [Bool]) -> Double {
        let curve = precisionRecallCurve(scores: scores, positives: positives)
        guard !curve.isEmpty else { return .nan }
        var (recall, sum) = (0.0, 0.0)
        for point in curve {
            sum += (point.recall - recall) * point.precision
            recall = point.recall
        }
        return sum
    }

    /// a / b, 0 when b is 0 (scikit-learn's `zero_division=0`).
    static func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
}
