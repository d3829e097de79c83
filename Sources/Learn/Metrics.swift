import Foundation

/// Classification metrics computed from class probabilities (N × C) and true labels.
public enum Metrics {
    public static func accuracy(probabilities: [[Double]], labels: [Int]) -> Double {
        guard !labels.isEmpty else { return .nan }
        return Double(zip(probabilities, labels).filter { argmax($0.0) == $0.1 }.count) / Double(labels.count)
    }

    /// The share of `decisions` equal to `labels` (the accuracy of decisions made at a threshold).
    public static func accuracy(decisions: [Int], labels: [Int]) -> Double {
        guard !labels.isEmpty else { return .nan }
        return Double(zip(decisions, labels).filter { $0 == $1 }.count) / Double(labels.count)
    }

    public static func errorRate(probabilities: [[Double]], labels: [Int]) -> Double {
        1 - accuracy(probabilities: probabilities, labels: labels)
    }

    /// Mean negative log of the true class's probability (clipped to [1e-15, 1]).
    public static func logLoss(probabilities: [[Double]], labels: [Int]) -> Double {
        guard !labels.isEmpty else { return .nan }
        return zip(probabilities, labels).map { -log(min(1, max(1e-15, $0.0[$0.1]))) }.reduce(0, +)
            / Double(labels.count)
    }

    /// Area under the ROC curve of `scores` for the positives, ties counted as half (Mann–Whitney).
    /// NaN when one of the two groups is empty.
    public static func rocAUC(scores: [Double], positives: [Bool]) -> Double {
        let pos = positives.filter { $0 }.count, neg = positives.count - pos
        guard pos > 0, neg > 0 else { return .nan }
        // Average ranks, ties sharing their mean rank.
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count, scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let rank = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = rank }
            i = j + 1
        }
        let positiveRanks = zip(ranks, positives).filter { $0.1 }.map(\.0).reduce(0, +)
        return (positiveRanks - Double(pos * (pos + 1)) / 2) / Double(pos * neg)
    }

    /// Binary: AUC of the last class's probability. More classes: mean one-vs-rest AUC over classes present.
    public static func rocAUC(probabilities: [[Double]], labels: [Int]) -> Double {
        guard let classes = probabilities.first?.count, classes >= 2 else { return .nan }
        if classes == 2 { return rocAUC(scores: probabilities.map { $0[1] }, positives: labels.map { $0 == 1 }) }
        let aucs = (0..<classes).map { c in
            rocAUC(scores: probabilities.map { $0[c] }, positives: labels.map { $0 == c })
        }.filter { !$0.isNaN }
        return aucs.isEmpty ? .nan : aucs.reduce(0, +) / Double(aucs.count)
    }

    /// ROC curve points (false-positive rate, true-positive rate) from the highest threshold down.
    public static func rocCurve(scores: [Double], positives: [Bool]) -> [(fpr: Double, tpr: Double)] {
        let pos = Double(positives.filter { $0 }.count), neg = Double(positives.count) - pos
        guard pos > 0, neg > 0 else { return [] }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0.0, fp = 0.0
        var points = [(0.0, 0.0)]
        for (k, i) in order.enumerated() {
            if positives[i] { tp += 1 } else { fp += 1 }
            if k + 1 == order.count || scores[order[k + 1]] != scores[i] { points.append((fp / neg, tp / pos)) }
        }
        return points
    }

    /// counts[true][predicted].
    public static func confusionMatrix(probabilities: [[Double]], labels: [Int], classes: Int) -> [[Int]] {
        var m = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (p, l) in zip(probabilities, labels) where l < classes { m[l][argmax(p)] += 1 }
        return m
    }

    /// Per-class precision, recall and F1 from a confusion matrix (NaN where undefined).
    public static func precisionRecallF1(_ confusion: [[Int]]) -> [(precision: Double, recall: Double, f1: Double)] {
        confusion.indices.map { c in
            let tp = Double(confusion[c][c])
            let predicted = Double(confusion.map { $0[c] }.reduce(0, +))
            let actual = Double(confusion[c].reduce(0, +))
            let p = predicted > 0 ? tp / predicted : .nan, r = actual > 0 ? tp / actual : .nan
            let f1 = p + r > 0 ? 2 * p * r / (p + r) : .nan
            return (p, r, f1)
        }
    }

    public static func argmax(_ values: [Double]) -> Int {
        values.indices.max { values[$0] < values[$1] } ?? 0
    }
}

/// A named metric the learner reports after each epoch.
public struct Metric: Sendable {
    public let name: String
    /// Larger is better (accuracy, AUC) or smaller (loss, error rate).
    public let higherIsBetter: Bool
    public let compute: @Sendable (_ probabilities: [[Double]], _ labels: [Int]) -> Double

    public static let accuracy = Metric(name: "accuracy", higherIsBetter: true, compute: Metrics.accuracy)
    public static let errorRate = Metric(name: "error_rate", higherIsBetter: false, compute: Metrics.errorRate)
    public static let rocAUC = Metric(name: "roc_auc", higherIsBetter: true, compute: Metrics.rocAUC)
    public static let logLoss = Metric(name: "log_loss", higherIsBetter: false, compute: Metrics.logLoss)
}
