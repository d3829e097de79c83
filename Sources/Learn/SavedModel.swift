import Foundation
import NN
import Torch
import Vision

/// A trained classifier read back from its model file, ready to predict; or an ensemble of several (a
/// cross-validation bundle, metadata entry `ensemble`: K), whose predictions average the members' probabilities.
public struct SavedModel {
    /// The model, or an ensemble's first member (what heat maps and exports use).
    public var classifier: Classifier { members[0] }
    /// Every member: one for a plain model file.
    public let members: [Classifier]
    public let architecture: Architecture
    public let classes: [String]
    public let size: Int
    /// The presize cache the model was trained through; predictions go through the same one, so they
    /// see the same resampling (files written before this entry existed get the default, 1.25 × size).
    public let presizeCache: PresizeCache
    public let normalization: Normalization
    /// How photos become the square input, as in training (files from before the entry: the centre crop).
    public let resize: ResizeMethod
    /// The names shown for the classes (metadata `class_names`; default: ``displayNames(classes:labelColumn:)``).
    public let classNames: [String]
    public let metadata: [String: String]
    /// What the model answers: one class, or a set of labels (metadata `task`; files from before it are single-label).
    public let task: TaskKind
    /// The file it was read from, for messages.
    public let source: URL

    /// The metadata a model file carries besides the learner's own entries.
    public static func metadata(
        architecture: Architecture, classes: [String], size: Int, presize: Int, head: HeadKind, options: String
    ) throws -> [String: String] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return [
            "arch": architecture.rawValue,
            "classes": String(decoding: try encoder.encode(classes), as: UTF8.self),
            "size": String(size),
            "presize": String(presize),
            "normalization": String(decoding: try encoder.encode(architecture.normalization), as: UTF8.self),
            "head": String(decoding: try encoder.encode(head), as: UTF8.self),
            "options": options,
            "quadrat_version": quadratVersion,
            "trained_at": ISO8601DateFormatter().string(from: Date()),
            "libtorch_version": Torch.version,
        ]
    }

    public init(_ url: URL) throws {
        let (tensors, metadata) = try Learner.readCheckpoint(url)
        let header = try Header(metadata, source: url)
        source = url
        (architecture, classes, size, normalization) =
            (header.architecture, header.classes, header.size, header.normalization)
        presizeCache = PresizeCache(shorterSide: header.presize)
        (resize, classNames, self.metadata) = (header.resize, header.classNames, metadata)
        task = header.task
        let (count, head) = (header.members, header.head)
        let (architecture, classes) = (architecture, classes)
        members = try (0..<count).map { k in
            let prefix = metadata["ensemble"] == nil ? "model." : "member\(k).model."
            let classifier = try Classifier(architecture, classes: classes, head: head, pretrained: false)
            var state: [String: Tensor] = [:]
            for (key, t) in tensors where key.hasPrefix(prefix) { state[String(key.dropFirst(prefix.count))] = t }
            try classifier.load(state)
            classifier.eval()
            // Inputs are channels-last: weights in the same layout spare oneDNN a reorder on every forward pass,
            // and BatchNorm folded into the convolutions spares a pass over every feature map (Lite0 at 256 px,
            // batch 8, 2-core Zen 3: 32.8 img/s NCHW, 38.6 channels-last, 50.4 folded). The state dict is
            // unchanged: the folded weights are kept beside the convolutions and BatchNorms, which exports read.
            try classifier.body.prepareForInference()
            try classifier.convert(to: .channelsLast)
            // Its weights no longer change: its passes may run through oneDNN directly.
            classifier.evaluatesThroughOneDNN = true
            return classifier
        }
    }

    /// The calibration fitted when the model was trained (nil in files from before it existed): the plain one,
    /// or the one for TTA.
    public func calibration(tta: Bool) -> Calibration? {
        // An unreadable entry counts as none: the probabilities are then given as the network computes them.
        guard let text = metadata["calibration"],
            let both = try? JSONDecoder().decode(ModelCalibration.self, from: Data(text.utf8))
        else { return nil }
        return tta ? both.tta ?? both.plain : both.plain
    }

    /// A multi-label model's label calibration fitted at training (nil for single-label models): the plain one, or
    /// the one for TTA.
    public func labelCalibration(tta: Bool) -> LabelCalibration? {
        // An unreadable entry counts as none: each label is then decided at 0.5 on the network's probabilities.
        guard let text = metadata[ModelLabelCalibration.metadataKey],
            let both = try? JSONDecoder().decode(ModelLabelCalibration.self, from: Data(text.utf8))
        else { return nil }
        return tta ? both.tta ?? both.plain : both.plain
    }

    /// The labels decided for a multi-label model's (calibrated) probabilities `p`, each at its threshold.
    public func decideLabels(_ p: [Double], tta: Bool = false) -> [Bool] {
        labelCalibration(tta: tta)?.decide(p) ?? task.task.plainDecisions(p)
    }

    /// A binary single-label model's threshold on the second class's probability (the calibrated one, else 0.5);
    /// nil for the other models, which decide otherwise.
    public var binaryThreshold: Double? {
        guard !task.task.decidesEachClass, classes.count == 2 else { return nil }
        return calibration(tta: false)?.threshold ?? 0.5
    }

    /// The labels a multi-label model decides for (calibrated) probabilities `p`, as class indices; nil for a
    /// single-label model, which decides one class (``decide(_:tta:)``).
    public func decidedLabels(_ p: [Double], tta: Bool = false) -> [Int]? {
        guard task.task.decidesEachClass else { return nil }
        let decided = decideLabels(p, tta: tta)
        return decided.indices.filter { decided[$0] }
    }

    /// The class decided for (calibrated) probabilities `p`: at the model's threshold for binary models, the most
    /// probable class otherwise.
    public func decide(_ p: [Double], tta: Bool = false) -> Int {
        calibration(tta: tta)?.decide(p) ?? Metrics.argmax(p)
    }

    /// A loader of `dataset` prepared as the model sees photos: its size, presize cache, normalisation and resize.
    public func evaluationLoader(_ dataset: ImageDataset, batchSize: Int = DataLoader.evaluationBatchSize) -> DataLoader
    {
        let loader = DataLoader(
            dataset, size: size, batchSize: batchSize, normalization: normalization, cache: presizeCache)
        loader.resize = resize
        return loader
    }

    /// ``evaluationLoader(_:batchSize:)`` for photos whose labels do not matter (each read as class 0).
    public func evaluationLoader(items: [ImageItem], batchSize: Int = DataLoader.evaluationBatchSize) -> DataLoader {
        evaluationLoader(
            ImageDataset(items: items.map { ImageItem(url: $0.url, name: $0.name, label: 0) }, classes: classes),
            batchSize: batchSize)
    }

    /// Class probabilities for `dataset`'s images (TTA with `ttaViews` > 0), calibrated with the temperature
    /// fitted at training unless `calibrated` is false. Unreadable images are left out and listed in `skipped`;
    /// `items` gives the positions predicted. With `keepingFeatures`, `features` holds the first member's pooled body
    /// features of the plain view, a row per predicted photo, from the same forward pass: what the deployment check
    /// (``DriftReference/features(_:items:)``) would compute in a pass of its own. Nil when not asked, in bf16, or
    /// when the first member is not a ``Classifier`` (see ``Learner/keepsPlainFeatures``).
    public func predict(
        _ dataset: ImageDataset, ttaViews: Int = 0, augmentation: Augmentation = .sideOn,
        batchSize: Int = DataLoader.evaluationBatchSize,
        mixedPrecision: Bool = false, calibrated: Bool = true, keepingFeatures: Bool = false
    )
        throws -> (probabilities: [[Double]], items: [Int], skipped: [DataProblem], features: Tensor?)
    {
        let loader = evaluationLoader(dataset, batchSize: batchSize)
        var sum: [[Double]] = [], items: [Int] = []
        var features: Tensor?
        for (k, member) in members.enumerated() {
            let learner = Learner(model: member, groups: [[member]], train: loader, valid: nil, task: task.task)
            learner.verbose = false
            learner.inferenceMixedPrecision = mixedPrecision
            learner.keepsPlainFeatures = keepingFeatures && k == 0
            let (p, kept) = try learner.predictWithTTA(loader, views: ttaViews, augmentation: augmentation)
            // Every member reads the same files: an image unreadable for one is unreadable for all.
            sum = sum.isEmpty ? p : zip(sum, p).map { zip($0, $1).map(+) }
            items = kept
            if k == 0 { features = learner.plainFeatures }
        }
        var p = sum.map { row in row.map { $0 / Double(members.count) } }
        // A photo whose output is not a number is left out like an unreadable one (all of them: the weights).
        let bad = try nonFiniteRows(p)
        let problems = bad.map {
            DataProblem(
                .corruptImage, path: dataset.items[items[$0]].url.path,
                "gets probabilities that are not numbers from the model: left out")
        }
        if let rows = features, !bad.isEmpty {
            let dropped = Set(bad)
            features = try rows.indexSelect(dim: 0, p.indices.filter { !dropped.contains($0) })
        }
        for row in bad.reversed() {
            p.remove(at: row)
            items.remove(at: row)
        }
        return (calibrated ? calibrate(p, tta: ttaViews > 0) : p, items, loader.skipped.all + problems, features)
    }

    /// `probabilities` with the temperatures fitted at training: the model's, or each label's.
    public func calibrate(_ probabilities: [[Double]], tta: Bool) -> [[Double]] {
        if let labels = labelCalibration(tta: tta) { return probabilities.map(labels.apply) }
        return calibration(tta: tta).map { c in probabilities.map(c.apply) } ?? probabilities
    }
}

extension SavedModel {
    /// The rows of `probabilities` that are not numbers; refuses them all being so: a model whose weights hold NaN
    /// or infinity gives NaN for every photo, and writing those (or scoring them) would pass the damage on in
    /// silence. One bad row among good ones is that photo's (an overflow on it), left to the caller.
    func nonFiniteRows(_ probabilities: [[Double]]) throws -> [Int] {
        let bad = probabilities.indices.filter { probabilities[$0].contains { !$0.isFinite } }
        guard !bad.isEmpty, bad.count == probabilities.count else { return bad }
        let example = probabilities[bad[0]].map { String($0) }.joined(separator: ", ")
        throw LearnError(
            "\(source.path) gives probabilities that are not numbers (\(example)) for every photo: its weights are "
                + "damaged (NaN or infinite); retrain or restore the file")
    }

    /// The names to show for `classes` when none were given: the label values, except that 0/1 labels of a column
    /// such as `invasive` read "not invasive" and "invasive" (a column named like `label` or `class` keeps 0 and 1).
    public static func displayNames(classes: [String], labelColumn: String?) -> [String] {
        guard classes == ["0", "1"], let column = labelColumn?.trimmingCharacters(in: .whitespaces), !column.isEmpty,
            !["label", "labels", "class", "target", "y", "category"].contains(column.lowercased())
        else { return classes }
        return ["not \(column)", column]
    }
}

/// Quadrat's version, written into model files.
public let quadratVersion = "0.1.0"
