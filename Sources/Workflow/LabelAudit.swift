import Foundation
import Learn
import NN
import Torch
import Vision

/// `quadrat audit`: which labels look wrong. Out-of-fold probabilities for every labelled photo, from K heads
/// trained on the pretrained body's pooled features (the body is not fine-tuned, so no photo ever influences its
/// own prediction), then confident learning (``ConfidentLearning``) over them.
///
/// Features are computed once (about a minute for 2,600 photos at 224 px on 2 cores); each fold's head trains in
/// seconds, so the K-fold split is repeated (``Options/repeats``) and each photo's out-of-fold probabilities
/// averaged. The OOF predictions also give a cross-validated score of that head-only model (mean ± sd over
/// every fold of every repeat).
public struct LabelAudit {
    /// Settings of an audit.
    public struct Options: Sendable {
        public var folds = 5
        public var architecture = Architecture.efficientNetLite0
        public var size: Int?
        public var epochs = 6
        public var learningRate = 3e-3
        public var seed: UInt64 = 42
        public var ranking = ConfidentLearning.Ranking.selfConfidence
        /// Symmetries of the square (flips and quarter turns, up to 7) whose features are averaged with the
        /// plain photo's: each costs one more pass over the photos; for photos with no up or down, such as
        /// solar cells or micrographs.
        public var views = 0
        /// Times the K-fold split is drawn anew (other folds, other head seeds); each photo's probabilities are
        /// the mean over the repeats. Heads train in seconds, and the mean is steadier than one split's.
        public var repeats = 3
        /// What keeps photos in one fold (`--group-by`, near-duplicate clusters); nil: stratified folds alone.
        public var grouping: SplitGrouping?
        public init() {}
    }

    /// An audit's outcome: the photos predicted, their OOF probabilities, the verdicts (most suspicious first)
    /// and each fold's accuracy.
    public struct Outcome {
        public var items: [ImageItem]
        /// The given label of each item.
        public var labels: [Int]
        public var probabilities: [[Double]]
        public var verdicts: [ConfidentLearning.Verdict]
        public var foldAccuracies: [Double]
        public var foldAUCs: [Double]
        public var skipped: [DataProblem]
    }

    public var options: Options

    public init(options: Options) { self.options = options }

    /// The pretrained body's pooled features of the readable photos of `dataset` (averaged over ``Options/views``
    /// symmetries), their targets as the loader makes them, and which photos they are.
    struct Features {
        var features: Tensor, targets: Tensor
        var items: [ImageItem]
        var cache: PresizeCache
        var skipped: [DataProblem]
    }

    func features(_ dataset: ImageDataset) throws -> Features {
        guard options.folds >= 2 else { throw WorkflowError("--folds must be at least 2, not \(options.folds)") }
        Torch.manualSeed(options.seed)
        let size = options.size ?? options.architecture.defaultSize
        let classifier = try Classifier(options.architecture, classes: dataset.classes)
        let cache = PresizeCache(shorterSide: PresizeCache.defaultShorterSide(forSize: size))
        let loader = DataLoader(
            dataset, size: size, batchSize: DataLoader.evaluationBatchSize,
            normalization: options.architecture.normalization, cache: cache)
        var (features, targets) = try classifier.precompute(loader, label: "features")
        let views = min(max(options.views, 0), 7)
        if views > 0 {
            for k in 1...views {
                features = try features + classifier.precompute(loader, label: "view \(k)", view: .symmetry(k)).features
            }
            features = try features / Double(views + 1)
        }
        let skippedPaths = Set(loader.skipped.all.map(\.path))
        let items = dataset.items.filter { !skippedPaths.contains($0.url.path) }
        guard items.count == features.shape[0] else {
            throw WorkflowError("audit: \(features.shape[0]) feature rows for \(items.count) readable photos")
        }
        return Features(features: features, targets: targets, items: items, cache: cache, skipped: loader.skipped.all)
    }

    public func run(_ dataset: ImageDataset, emit: (String) -> Void = { _ in }) throws -> Outcome {
        let classes = dataset.classes
        let repeats = max(1, options.repeats)
        let prepared = try features(dataset)
        let (features, labelTensor, items, cache) = (
            prepared.features, prepared.targets, prepared.items, prepared.cache
        )
        let labels = try labelTensor.toArray(Int64.self).map { Int($0) }
        let groups = try auditGroups(items, labelsFile: dataset.labelsFile, cache: cache)
        let c = classes.count
        var sums = [[Double]](repeating: Array(repeating: 0, count: c), count: labels.count)
        var accuracies: [Double] = [], aucs: [Double] = []
        for round in 0..<repeats {
            // Repeat 0 is the plain K-fold audit; later ones split differently and start their heads elsewhere.
            let seed = options.seed &+ UInt64(round) &* 7919
            let fold =
                groups.map { Split.groupedFolds(labels: labels, groups: $0, folds: options.folds, seed: seed) }
                ?? ConfidentLearning.folds(labels: labels, folds: options.folds, seed: seed)
            for k in 0..<options.folds {
                let train = labels.indices.filter { fold[$0] != k }, held = labels.indices.filter { fold[$0] == k }
                let p = try headProbabilities(
                    features: features, labels: labelTensor, train: train, held: held, classes: c,
                    seed: seed &+ UInt64(k))
                var heldP: [[Double]] = []
                for (row, i) in held.enumerated() {
                    heldP.append(p[(row * c)..<((row + 1) * c)].map(Double.init))
                    sums[i] = zip(sums[i], heldP[row]).map { $0 + $1 }
                }
                let heldL = held.map { labels[$0] }
                accuracies.append(Metrics.accuracy(probabilities: heldP, labels: heldL))
                aucs.append(Metrics.rocAUC(probabilities: heldP, labels: heldL))
                Feedback.log(
                    String(
                        format: "%@fold %d/%d: %d photos held out, accuracy %.4f, ROC AUC %.4f",
                        repeats > 1 ? "repeat \(round + 1)/\(repeats), " : "", k + 1, options.folds, held.count,
                        accuracies.last ?? 0, aucs.last ?? 0))
            }
        }
        let probabilities = sums.map { row in row.map { $0 / Double(repeats) } }
        let verdicts = ConfidentLearning.audit(
            probabilities: probabilities, labels: labels, classes: classes.count, ranking: options.ranking)
        return Outcome(
            items: items, labels: labels, probabilities: probabilities, verdicts: verdicts, foldAccuracies: accuracies,
            foldAUCs: aucs, skipped: prepared.skipped)
    }

    /// Class probabilities (row-major) of the `held` rows from a fresh head trained on the `train` rows for `task`.
    func headProbabilities(
        features: Tensor, labels: Tensor, train: [Int], held: [Int], classes: Int, seed: UInt64,
        task: any ClassificationTask = SingleLabelTask()
    ) throws -> [Float] {
        let head = try Sequential(
            HeadKind.fastai().make(features: features.shape[1] / 2, classes: classes).children.dropFirst(2)
                .map(\.module))
        let learner = Learner(
            model: head, groups: [[head]],
            train: FeatureBatches(
                features: try features.indexSelect(dim: 0, train), labels: try labels.indexSelect(dim: 0, train),
                seed: seed),
            valid: nil, task: task)
        learner.verbose = false
        learner.seed = seed
        try learner.fitSGDR(rates: [options.learningRate], cycles: options.epochs)
        head.eval()
        return try Torch.withoutGrad {
            try task.activate(head(features.indexSelect(dim: 0, held))).toArray(Float.self)
        }
    }

    /// The groups of the readable photos when ``Options/grouping`` asks for them (printed), else nil.
    func auditGroups(_ items: [ImageItem], labelsFile: URL?, cache: PresizeCache) throws -> [Int]? {
        guard let grouping = options.grouping else { return nil }
        let survey = grouping.needsSurvey ? try PhotoSurvey.run(items, cache: cache, presized: true) : nil
        let groups = try grouping.groups(
            ImageDataset(items: items, classes: [], labelsFile: labelsFile), survey: survey)
        guard grouping.column != nil || survey?.clusters.isEmpty == false else { return nil }
        return groups
    }

    /// The audit of out-of-fold predictions made elsewhere: `oof_predictions.csv` from `train --folds K`
    /// (fine-tuned models, better than the heads ``run(_:emit:)`` trains), matched to `dataset`'s photos by name.
    /// The given labels are the data set's; the file's columns must be `name`, …, `p_<class>` for its classes.
    public static func audit(
        predictions url: URL, dataset: ImageDataset, ranking: ConfidentLearning.Ranking
    ) throws -> Outcome {
        let table = try CSVTable(url: url)
        let columns = dataset.classes.map { "p_\($0)" }
        let positions = columns.compactMap { table.header.firstIndex(of: $0) }
        guard let nameColumn = table.header.firstIndex(of: "name"), positions.count == columns.count else {
            throw WorkflowError(
                "\(url.path): expected a name column and \(columns.joined(separator: ", ")) (oof_predictions.csv of "
                    + "train --folds on this data), found \(table.header.joined(separator: ","))")
        }
        var byName: [String: [Double]] = [:]
        for (line, fields) in table.rows {
            let p = positions.compactMap { $0 < fields.count ? Double(fields[$0]) : nil }
            guard nameColumn < fields.count, p.count == positions.count else {
                throw WorkflowError("\(url.path):\(line): expected a name and \(positions.count) probabilities")
            }
            byName[fields[nameColumn]] = p
        }
        let items = dataset.items.filter { byName[$0.name] != nil && $0.label != nil }
        guard !items.isEmpty else {
            throw WorkflowError("\(url.path): none of its names are photos of \(dataset.items.count) in the data")
        }
        let labels = items.compactMap(\.label)
        let probabilities = items.map { byName[$0.name] ?? [] }
        return Outcome(
            items: items, labels: labels, probabilities: probabilities,
            verdicts: ConfidentLearning.audit(
                probabilities: probabilities, labels: labels, classes: dataset.classes.count, ranking: ranking),
            foldAccuracies: [Metrics.accuracy(probabilities: probabilities, labels: labels)],
            foldAUCs: [Metrics.rocAUC(probabilities: probabilities, labels: labels)], skipped: [])
    }

    /// `audit.csv`: one row per photo, most suspicious first (rank, name, file, given and suspected label, flagged,
    /// self-confidence, margin, fold-out probabilities).
    public static func csv(_ outcome: Outcome, classes: [String]) -> String {
        var text =
            CSVTable.row(
                ["rank", "name", "file", "given", "suspected", "flagged", "self_confidence", "margin"]
                    + classes.map { "p_\($0)" }) + "\n"
        for (rank, v) in outcome.verdicts.enumerated() {
            let item = outcome.items[v.index]
            text +=
                CSVTable.row(
                    [
                        String(rank + 1), item.name, item.url.path, classes[v.given], classes[v.suspected],
                        v.flagged ? "yes" : "no", String(format: "%.4f", v.selfConfidence),
                        String(format: "%.4f", v.margin),
                    ] + outcome.probabilities[v.index].map { String(format: "%.4f", $0) }) + "\n"
        }
        return text
    }
}

extension Array where Element == Double {
    /// Mean and sample standard deviation.
    public var meanAndDeviation: (mean: Double, sd: Double) {
        guard !isEmpty else { return (.nan, .nan) }
        let mean = reduce(0, +) / Double(count)
        let variance = count > 1 ? map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(count - 1) : 0
        return (mean, variance.squareRoot())
    }
}
