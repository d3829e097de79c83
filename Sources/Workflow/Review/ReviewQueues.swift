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
        labels: [[Int]?], classes: Int, task: any TaskWorkflow, predictions: ReviewModel.Predictions?,
        model: ReviewModel?
    ) throws -> [ReviewQueue: [Int]] {
        var queues: [ReviewQueue: [Int]] = [.all: Array(labels.indices)]
        guard let predictions, let model else { return queues }
        let p = predictions.probabilities
        let labelled = labels.indices.filter { labels[$0] != nil && p[$0] != nil }
        let pool = labels.indices.filter { labels[$0] == nil && p[$0] != nil }
        let uncertainty = p.map { task.uncertainty($0 ?? []) }
        // How far the model is from each labelled photo's labels.
        let disagreement = labelled.map { task.disagreement(p[$0] ?? [], given: Set(labels[$0] ?? [])) }
        let byDisagreement = zip(labelled, disagreement).sorted { ($0.1, -$0.0) > ($1.1, -$1.0) }
        queues[.mistakes] = byDisagreement.filter { $0.1 > 0.5 }.map(\.0)
        queues[.suspects] = task.suspects(
            labelled.map { p[$0] ?? [] }, labels: labelled.map { labels[$0] ?? [] }, classCount: classes
        ).map { labelled[$0] }
        queues[.uncertain] = labelled.sorted { (uncertainty[$0], -$0) > (uncertainty[$1], -$1) }
        queues[.pool] = try model.poolOrder(pool, uncertainty: uncertainty, labelled: labelled)
        let scores = predictions.unknownScores
        queues[.unknown] = pool.filter { (scores[$0] ?? 0) > predictions.unknownThreshold }
            .sorted { (scores[$0] ?? 0) > (scores[$1] ?? 0) }
        return queues
    }
}
