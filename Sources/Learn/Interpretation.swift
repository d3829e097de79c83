import Foundation
import Vision

/// Error analysis of predictions (fastai's `ClassificationInterpretation` and the seed's plots):
/// which images the model gets right and wrong, and how sure it was.
public struct Interpretation: Sendable {
    public let probabilities: [[Double]]
    public let labels: [Int]
    public let classes: [String]
    /// The class decided for each image (a binary model's threshold), or nil for the most probable one.
    public let decisions: [Int]?

    public init(probabilities: [[Double]], labels: [Int], classes: [String], decisions: [Int]? = nil) {
        self.probabilities = probabilities
        self.labels = labels
        self.classes = classes
        self.decisions = decisions
    }

    public func predicted(_ i: Int) -> Int { decisions?[i] ?? Metrics.argmax(probabilities[i]) }
    public func isCorrect(_ i: Int) -> Bool { predicted(i) == labels[i] }
    /// The probability of the predicted class.
    public func confidence(_ i: Int) -> Double { probabilities[i][predicted(i)] }

    public var confusionMatrix: [[Int]] {
        var m = [[Int]](repeating: [Int](repeating: 0, count: classes.count), count: classes.count)
        for i in labels.indices where labels[i] < classes.count { m[labels[i]][predicted(i)] += 1 }
        return m
    }

    /// Up to `count` random correct (or incorrect) predictions, seeded.
    public func random(correct: Bool, count: Int = 8, seed: UInt64 = 0) -> [Int] {
        let pool = labels.indices.filter { isCorrect($0) == correct }
        var rng = SeededRandom(seed: seed)
        return rng.permutation(pool.count).prefix(count).map { pool[$0] }
    }

    /// The most confident correct (or incorrect) predictions of each true class.
    public func mostConfident(correct: Bool, perClass count: Int = 4) -> [(classIndex: Int, items: [Int])] {
        classes.indices.map { c in
            let pool = labels.indices.filter { labels[$0] == c && isCorrect($0) == correct }
            return (c, Array(pool.sorted { confidence($0) > confidence($1) }.prefix(count)))
        }
    }

    /// The predictions closest to a tie (smallest gap between the top two probabilities).
    public func mostUncertain(count: Int = 8) -> [Int] {
        func gap(_ i: Int) -> Double {
            let sorted = probabilities[i].sorted(by: >)
            return sorted.count > 1 ? sorted[0] - sorted[1] : 1
        }
        return Array(labels.indices.sorted { gap($0) < gap($1) }.prefix(count))
    }
}
