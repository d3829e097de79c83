import Foundation
import Learn
import Report
import Torch
import Vision

/// Does choosing what to label pay? A reviewer simulated with the true labels: start with `start` labelled photos
/// drawn at random, add `step` at a time up to `end`, retrain the review's head on the cached features each round
/// and score the held-out test photos; the next photos come at random, or in the pool queue's order
/// (``ReviewSelection``: smallest margin, spread by k-center greedy). Repeated for each seed.
public struct ActiveLearningSimulation {
    /// One round's score.
    public struct Point: Sendable {
        public var strategy: String
        public var seed: UInt64
        public var labelled: Int
        public var accuracy: Double
        public var auc: Double
    }

    public var start = 100, step = 100, end = 1000
    public var seeds: [UInt64] = [1, 2, 3]
    public var model = ReviewModel.Options()

    public init() {}

    /// Every round of both strategies on `pool` (labelled; labels hidden until chosen) and `test`.
    public func run(pool: ImageDataset, test: ImageDataset, emit: (String) -> Void) throws -> [Point] {
        let classes = pool.classes.count
        let truth = try pool.items.labels().map { [$0] }
        let testTruth = try test.items.labels()
        let features = try ReviewModel(photos: pool.items.map(\.url) + test.items.map(\.url), options: model)
        var points: [Point] = []
        for seed in seeds {
            var rng = SeededRandom(seed: seed)
            let first = Array(rng.permutation(pool.items.count).prefix(start))
            for strategy in ["random", "margin + k-center"] {
                var chosen = first
                while true {
                    var labels = [[Int]?](repeating: nil, count: truth.count + testTruth.count)
                    for i in chosen { labels[i] = truth[i] }
                    let p = try features.predict(
                        labels: labels, classes: classes, task: SingleLabelTask(), outOfFold: false, unknown: false)
                    let scored = testTruth.indices.compactMap { k in p.probabilities[truth.count + k].map { (k, $0) } }
                    let point = Point(
                        strategy: strategy, seed: seed, labelled: chosen.count,
                        accuracy: Metrics.accuracy(
                            probabilities: scored.map(\.1), labels: scored.map { testTruth[$0.0] }),
                        auc: Metrics.rocAUC(probabilities: scored.map(\.1), labels: scored.map { testTruth[$0.0] }))
                    points.append(point)
                    emit(
                        String(
                            format: "seed %llu, %@: %d labelled, test accuracy %.4f, ROC AUC %.4f", seed, strategy,
                            chosen.count, point.accuracy, point.auc))
                    guard chosen.count < end else { break }
                    chosen += try next(
                        strategy, chosen: chosen, probabilities: p, features: features, rng: &rng,
                        poolCount: truth.count)
                }
            }
        }
        return points
    }

    /// The next `step` photos of the pool for `strategy`.
    func next(
        _ strategy: String, chosen: [Int], probabilities p: ReviewModel.Predictions, features: ReviewModel,
        rng: inout SeededRandom, poolCount: Int
    ) throws -> [Int] {
        let taken = Set(chosen)
        let remaining = (0..<poolCount).filter { !taken.contains($0) && features.rows[$0] != nil }
        guard strategy != "random" else {
            return rng.permutation(remaining.count).prefix(step).map { remaining[$0] }
        }
        let uncertainty = p.probabilities.map { SingleLabelTask().uncertainty($0 ?? []) }
        return Array(
            try features.poolOrder(remaining, uncertainty: uncertainty, labelled: chosen, batch: step, limit: step)
                .prefix(step))
    }

    /// The rounds as CSV (strategy, seed, labelled, accuracy, auc).
    public static func csv(_ points: [Point]) -> String {
        "strategy,seed,labelled,accuracy,roc_auc\n"
            + points.map {
                "\($0.strategy),\($0.seed),\($0.labelled),\(String(format: "%.4f,%.4f", $0.accuracy, $0.auc))\n"
            }.joined()
    }

    /// Both learning curves (the mean over the seeds of test accuracy, or of ROC AUC with `auc`) as an SVG chart.
    public static func chart(_ points: [Point], title: String, auc: Bool = false) -> String {
        let colors = ["random": "#888", "margin + k-center": "#c60"]
        let series = ["random", "margin + k-center"].map { strategy in
            let mine = points.filter { $0.strategy == strategy }
            let counts = Set(mine.map(\.labelled)).sorted()
            return SVG.Series(
                strategy,
                counts.map { n in
                    let at = mine.filter { $0.labelled == n }.map { auc ? $0.auc : $0.accuracy * 100 }
                    return (Double(n), at.reduce(0, +) / Double(at.count))
                }, color: colors[strategy] ?? "#58a")
        }
        return SVG.lineChart(
            series, title: title, xLabel: "labelled photos", yLabel: auc ? "test ROC AUC" : "test accuracy, %",
            width: 640)
    }
}
