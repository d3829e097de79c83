import Foundation
import Vision

/// Confident learning (Northcutt, Jiang & Chuang, 2021; the method of cleanlab): finds likely label errors from
/// out-of-sample predicted probabilities.
///
/// Per class j, the threshold t_j is the mean probability of j over the examples labelled j (how sure the model
/// is, on average, of that class's own examples). An example labelled i "confidently belongs" to j when p_j ≥ t_j
/// (the most probable such j when several pass). Counting those gives the confident joint C[i][j]; examples off
/// its diagonal (labelled i, confidently j ≠ i) are the label issues ("confident_learning" filter), ranked so the
/// most suspicious come first.
public enum ConfidentLearning {
    /// How issues are ordered: by the probability of the given label (lowest first), or by the normalised margin
    /// p_given − max_{k≠given} p_k (most negative first).
    public enum Ranking: String, CaseIterable, Sendable {
        case selfConfidence = "self-confidence"
        case normalizedMargin = "normalized-margin"
    }

    /// One example's verdict.
    public struct Verdict: Sendable, Equatable {
        /// Index into the probabilities.
        public var index: Int
        public var given: Int
        /// The class it confidently belongs to (nil: none passes its threshold), or the most probable other class.
        public var suspected: Int
        /// Off the confident joint's diagonal.
        public var flagged: Bool
        /// Probability of the given label.
        public var selfConfidence: Double
        /// p_given − max_{k≠given} p_k.
        public var margin: Double
    }

    /// t_j: the mean probability of class j over the examples labelled j (1 for a class without examples).
    public static func thresholds(probabilities: [[Double]], labels: [Int], classes: Int) -> [Double] {
        (0..<classes).map { j in
            let own = zip(probabilities, labels).filter { $0.1 == j }.map { $0.0[j] }
            return own.isEmpty ? 1 : own.reduce(0, +) / Double(own.count)
        }
    }

    /// The class example `p` confidently belongs to: the most probable of the classes at or above their threshold.
    static func confidentClass(_ p: [Double], thresholds: [Double]) -> Int? {
        p.indices.filter { p[$0] >= thresholds[$0] }.max { p[$0] < p[$1] }
    }

    /// C[i][j]: examples labelled i that confidently belong to j.
    public static func confidentJoint(probabilities: [[Double]], labels: [Int], classes: Int) -> [[Int]] {
        let t = thresholds(probabilities: probabilities, labels: labels, classes: classes)
        var joint = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        for (p, l) in zip(probabilities, labels) {
            if let j = confidentClass(p, thresholds: t) { joint[l][j] += 1 }
        }
        return joint
    }

    /// Every example's verdict, flagged ones first, each group ordered by `ranking` (most suspicious first).
    public static func audit(
        probabilities: [[Double]], labels: [Int], classes: Int, ranking: Ranking = .selfConfidence
    ) -> [Verdict] {
        let t = thresholds(probabilities: probabilities, labels: labels, classes: classes)
        let verdicts = zip(probabilities, labels).enumerated().map { index, pair in
            let (p, given) = pair
            let others = p.indices.filter { $0 != given }
            let bestOther = others.max { p[$0] < p[$1] } ?? given
            let confident = confidentClass(p, thresholds: t)
            return Verdict(
                index: index, given: given, suspected: confident.flatMap { $0 == given ? nil : $0 } ?? bestOther,
                flagged: confident.map { $0 != given } ?? false, selfConfidence: p[given],
                margin: p[given] - (others.map { p[$0] }.max() ?? 0))
        }
        let score: (Verdict) -> Double = ranking == .selfConfidence ? { $0.selfConfidence } : { $0.margin }
        return verdicts.sorted {
            $0.flagged != $1.flagged ? $0.flagged : score($0) != score($1) ? score($0) < score($1) : $0.index < $1.index
        }
    }

    /// Stratified, seeded fold assignment: each class's examples shuffled and dealt round-robin into `folds`
    /// folds, so every fold has each class in proportion (±1).
    public static func folds(labels: [Int], folds: Int, seed: UInt64) -> [Int] {
        var assignment = [Int](repeating: 0, count: labels.count)
        for c in Set(labels).sorted() {
            var random = SeededRandom(seed: seed &+ UInt64(c))
            let members = labels.indices.filter { labels[$0] == c }
            for (k, i) in random.permutation(members.count).map({ members[$0] }).enumerated() {
                assignment[i] = k % folds
            }
        }
        return assignment
    }
}
