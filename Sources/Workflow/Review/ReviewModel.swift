import Foundation
import Learn
import NN
import Torch
import Vision

/// The model behind the review's queues: pooled features of every photo, computed once (the pretrained body's, or
/// with `--run` the fine-tuned body of that run) and cached on disk, and small heads trained on them in seconds, so
/// that corrected labels re-rank the queues at once ("update the model").
///
/// Labelled photos get out-of-fold probabilities (K heads, each blind to the photos it scores, as in
/// ``LabelAudit``); unlabelled ones those of a head trained on every labelled photo.
public final class ReviewModel {
    /// How the features are made.
    public struct Options: Sendable {
        public var architecture = Architecture.efficientNetLite0
        public var size: Int?
        /// A trained model whose body makes the features (`--run`), instead of the pretrained one.
        public var model: URL?
        public var folds = 5
        public var seed: UInt64 = 42
        public var learningRate = 3e-3
        public init() {}
    }

    /// Each photo's predictions for the current labels.
    public struct Predictions: Sendable {
        /// Class (or label) probabilities per photo; nil for a photo that could not be read.
        public var probabilities: [[Double]?]
        /// Squared Mahalanobis distance of each photo's features to the nearest class mean of the labelled photos.
        public var unknownScores: [Double?]
        /// The 99th percentile of the labelled photos' own scores: above it, a photo is unlike anything labelled.
        public var unknownThreshold: Double
    }

    public let options: Options
    /// One row per readable photo.
    public let features: Tensor
    /// The feature row of each photo, nil when it could not be read.
    public let rows: [Int?]
    public let skipped: [DataProblem]

    /// Features of the photos at `urls` (cached under a key of their paths, sizes and times, and the model).
    public init(photos urls: [URL], options: Options) throws {
        self.options = options
        let saved = try options.model.map(SavedModel.init)
        let size = saved?.size ?? options.size ?? options.architecture.defaultSize
        let classifier = try saved?.classifier ?? Classifier(options.architecture, classes: ["a", "b"])
        let normalization = saved?.normalization ?? options.architecture.normalization
        // The loader wants a label per photo; the features do not depend on it.
        let items = urls.map { ImageItem(url: $0, name: $0.deletingPathExtension().lastPathComponent, label: 0) }
        let loader = DataLoader(
            ImageDataset(items: items, classes: ["a", "b"]), size: size, batchSize: DataLoader.evaluationBatchSize,
            normalization: normalization,
            cache: PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: size)))
        let key = Self.cacheKey(urls, size: size, model: options.model, architecture: options.architecture)
        var computed = try classifier.precompute(loader, cacheKey: key, label: "review features").features
        if computed.shape[0] != urls.count && loader.skipped.all.isEmpty {
            // Cached features of a folder with unreadable photos: the cache does not say which; compute afresh.
            computed = try classifier.precompute(loader, label: "review features").features
        }
        features = computed
        let unreadable = Set(loader.skipped.all.map(\.path))
        var next = 0
        rows = urls.map { url in
            guard !unreadable.contains(url.path) else { return nil }
            defer { next += 1 }
            return next
        }
        skipped = loader.skipped.all
        guard next == features.shape[0] else {
            throw WorkflowError("review: \(features.shape[0]) feature rows for \(next) readable photos")
        }
    }

    /// A key that changes when any photo, the size or the model changes.
    static func cacheKey(_ urls: [URL], size: Int, model: URL?, architecture: Architecture) -> String {
        var text = "review|\(architecture.rawValue)|\(size)|"
        for url in urls + (model.map { [$0] } ?? []) {
            let print = ReviewDecision.Fingerprint.of(url)
            text += "\(url.path)|\(print?.bytes ?? -1)|\(print?.modified ?? 0)\n"
        }
        return "review-" + String(fnv1a(text), radix: 16)
    }

    /// Predictions of every photo for `labels` (per photo: its classes, nil when unlabelled) over `classes`.
    /// With `outOfFold` false, labelled photos are scored by the head that trained on them (quicker; for
    /// simulations that score only the unlabelled).
    public func predict(
        labels: [[Int]?], classes: Int, task: any TaskWorkflow, outOfFold: Bool = true, unknown: Bool = true
    ) throws -> Predictions {
        let labelled = labels.indices.filter { labels[$0] != nil && rows[$0] != nil }
        let unlabelled = labels.indices.filter { labels[$0] == nil && rows[$0] != nil }
        var probabilities = [[Double]?](repeating: nil, count: labels.count)
        guard labelled.count >= 2 else {
            return Predictions(
                probabilities: probabilities, unknownScores: probabilities.map { _ in nil }, unknownThreshold: .infinity
            )
        }
        let targets = try task.targets(labelled.map { labels[$0] ?? [] }, classCount: classes)
        let x = try features.indexSelect(dim: 0, labelled.compactMap { rows[$0] })
        let audit = LabelAudit(options: auditOptions(count: labelled.count))
        func head(train: [Int], held: [Int], into photos: [Int], of all: Tensor, seed: UInt64) throws {
            let p = try audit.headProbabilities(
                features: all, labels: targets, train: train, held: held, classes: classes, seed: seed, task: task)
            for (row, photo) in photos.enumerated() {
                probabilities[photo] = p[(row * classes)..<((row + 1) * classes)].map(Double.init)
            }
        }
        // Unlabelled photos (and, without out-of-fold scores, the labelled too): one head on every labelled photo.
        let rest = outOfFold ? unlabelled : unlabelled + labelled
        if !rest.isEmpty {
            let all = try Tensor.cat([x, features.indexSelect(dim: 0, rest.compactMap { rows[$0] })])
            try head(
                train: Array(0..<labelled.count), held: Array(labelled.count..<(labelled.count + rest.count)),
                into: rest, of: all, seed: options.seed)
        }
        if outOfFold {
            let firsts = labelled.map { labels[$0]?.first ?? 0 }
            let fold = ConfidentLearning.folds(
                labels: firsts, folds: min(options.folds, labelled.count), seed: options.seed)
            for k in Set(fold).sorted() {
                let train = firsts.indices.filter { fold[$0] != k }, held = firsts.indices.filter { fold[$0] == k }
                guard !train.isEmpty else { continue }
                try head(
                    train: train, held: held, into: held.map { labelled[$0] }, of: x,
                    seed: options.seed &+ UInt64(k + 1))
            }
        }
        let (scores, threshold) =
            unknown
            ? try unknownScores(labels: labels, labelled: labelled, classes: classes)
            : (labels.map { _ in nil }, .infinity)
        return Predictions(probabilities: probabilities, unknownScores: scores, unknownThreshold: threshold)
    }

    /// The `pool` photos in the order to label them (``ReviewSelection`` over their feature rows), from each photo's
    /// `uncertainty` and the `labelled` photos; unreadable photos are left out.
    public func poolOrder(
        _ pool: [Int], uncertainty: [Double], labelled: [Int], batch: Int = 50, limit: Int = 2000
    ) throws -> [Int] {
        var byRow = [Double](repeating: 0, count: features.shape[0])
        var photoOf = [Int](repeating: 0, count: features.shape[0])
        for (photo, row) in rows.enumerated() {
            if let row { (byRow[row], photoOf[row]) = (uncertainty[photo], photo) }
        }
        let order = try ReviewSelection.order(
            pool: pool.compactMap { rows[$0] }, uncertainty: byRow, features: features,
            labelled: labelled.compactMap { rows[$0] }, batch: batch, limit: limit)
        return order.map { photoOf[$0] }
    }

    /// Heads train for at least ~300 steps, however few photos are labelled.
    func auditOptions(count: Int) -> LabelAudit.Options {
        var audit = LabelAudit.Options()
        audit.learningRate = options.learningRate
        let batches = max(1, (count + 63) / 64)
        audit.epochs = min(60, max(6, (300 + batches - 1) / batches))
        return audit
    }

    /// The Mahalanobis distance of every readable photo to the labelled photos' class means, and the labelled
    /// photos' 99th percentile (multi-label data: one mean of all labelled photos).
    func unknownScores(labels: [[Int]?], labelled: [Int], classes: Int) throws -> ([Double?], Double) {
        let readable = labels.indices.filter { rows[$0] != nil }
        let classOf = labelled.map { labels[$0]?.count == 1 ? labels[$0]?.first ?? 0 : 0 }
        guard labelled.count > classes + 1 else { return (labels.map { _ in nil }, .infinity) }
        let score = try MahalanobisScore.fit(
            features: features.indexSelect(dim: 0, labelled.compactMap { rows[$0] }), labels: classOf,
            classes: classes)
        let all = try score.scores(features.indexSelect(dim: 0, readable.compactMap { rows[$0] }))
        var scores = [Double?](repeating: nil, count: labels.count)
        for (photo, s) in zip(readable, all) { scores[photo] = s }
        let own = labelled.compactMap { scores[$0] }.sorted()
        let threshold = own[min(own.count - 1, Int((Double(own.count) * 0.99).rounded(.down)))]
        return (scores, threshold)
    }
}
