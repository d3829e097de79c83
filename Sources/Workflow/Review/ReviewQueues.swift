import Foundation
import Learn
import Torch

/// The queues a reviewer works through, each a list of photo indices, most worth a look first.
public enum ReviewQueue: String, CaseIterable, Sendable, Codable {
    /// Labels the audit doubts (confident learning over out-of-fold probabilities).
    case suspects
    /// Labelled photos the out-of-fold model gets wrong, the most confident first.
    case mistakes
    /// Labelled photos the model is least sure of.
    case uncertain
    /// Unlabelled photos in the order that teaches the model most (``ReviewSelection``).
    case pool
    /// Unlabelled photos unlike anything labelled (the unknown score above the labelled photos' 99th percentile).
    case unknown
    /// Every photo in folder order (the only queue without a model).
    case all

    /// The queues for photos with `labels` (nil: unlabelled) and the model's `predictions` (nil: no model yet).
    static func build(
        labels: [[Int]?], classes: Int, multiLabel: Bool, predictions: ReviewModel.Predictions?, model: ReviewModel?
    ) throws -> [ReviewQueue: [Int]] {
        var queues: [ReviewQueue: [Int]] = [.all: Array(labels.indices)]
        guard let predictions, let model else { return queues }
        let p = predictions.probabilities
        let labelled = labels.indices.filter { labels[$0] != nil && p[$0] != nil }
        let pool = labels.indices.filter { labels[$0] == nil && p[$0] != nil }
        let uncertainty = ReviewSelection.uncertainty(p.map { $0 ?? [] }, multiLabel: multiLabel)
        // How far the model is from each labelled photo's labels: 1 − p(label), or the worst label's gap.
        let disagreement = labelled.map { i -> Double in
            let probabilities = p[i] ?? [], given = Set(labels[i] ?? [])
            return multiLabel
                ? probabilities.indices.map { abs((given.contains($0) ? 1 : 0) - probabilities[$0]) }.max() ?? 0
                : 1 - probabilities[labels[i]?.first ?? 0]
        }
        let byDisagreement = zip(labelled, disagreement).sorted { ($0.1, -$0.0) > ($1.1, -$1.0) }
        queues[.mistakes] = byDisagreement.filter { $0.1 > 0.5 }.map(\.0)
        if multiLabel {
            queues[.suspects] = byDisagreement.filter { $0.1 > 0.75 }.map(\.0)
        } else {
            let verdicts = ConfidentLearning.audit(
                probabilities: labelled.map { p[$0] ?? [] }, labels: labelled.map { labels[$0]?.first ?? 0 },
                classes: classes)
            queues[.suspects] = verdicts.filter(\.flagged).map { labelled[$0.index] }
        }
        queues[.uncertain] = labelled.sorted { (uncertainty[$0], -$0) > (uncertainty[$1], -$1) }
        queues[.pool] = try model.poolOrder(pool, uncertainty: uncertainty, labelled: labelled)
        let scores = predictions.unknownScores
        queues[.unknown] = pool.filter { (scores[$0] ?? 0) > predictions.unknownThreshold }
            .sorted { (scores[$0] ?? 0) > (scores[$1] ?? 0) }
        return queues
    }
}
