import Foundation
import Learn
import NN
import Report
import Torch
import Vision

/// What a training run produced.
public struct TrainingOutcome: Sendable {
    public var validAccuracy: Double
    public var validAUC: Double
    public var times: PhaseTimes
    public var modelURL: URL
    public var reportURL: URL
}

/// The whole `train` workflow: data → split → presize → precomputed head → augmented head →
/// unfrozen → TTA → model, history, predictions, config and report in the run folder.
public struct TrainingRun {
    public var options: TrainOptions
    /// The command that resumes this run after Ctrl-C, printed with the checkpoint (default: this
    /// process's command line plus `--resume`).
    public var resumeHint: String?

    public init(options: TrainOptions, resumeHint: String? = nil) {
        self.options = options
        self.resumeHint = resumeHint
    }

    public func run() throws -> TrainingOutcome {
        try options.validate()
        let total = Date()
        Torch.useAllCores()
        Torch.manualSeed(options.seed)
        let architecture = try Architecture(named: options.arch)
        let size = options.size ?? architecture.defaultSize
        let out = URL(fileURLWithPath: options.out)
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)

        // Data and split.
        let dataset = try DataSource.labelled(
            URL(fileURLWithPath: options.data), nameColumn: options.nameColumn, labelColumn: options.labelColumn)
        report(problems: dataset.problems)
        let split = Split.random(
            count: dataset.items.count, fraction: options.validFraction, seed: options.seed,
            labels: dataset.items.compactMap(\.label))
        let trainSet = dataset.subset(split.train), validSet = dataset.subset(split.valid)
        emit(
            "data: \(dataset.items.count) images, classes \(zip(dataset.classes, dataset.classCounts).map { "\($0) (\($1))" }.joined(separator: ", ")); train \(trainSet.items.count), valid \(validSet.items.count)"
        )

        var times = PhaseTimes()
        let cache = PresizeCache(shorterSide: options.presize ?? PresizeCache.defaultShorterSide(forSize: size))
        let presizeStart = Date()
        var skipped = cache.fill(dataset.items)
        let presizeSeconds = Date().timeIntervalSince(presizeStart)

        let augmentation = options.augmentationSettings
        let trainLoader = DataLoader(
            trainSet, size: size, batchSize: options.batchSize, shuffle: true, augmentation: augmentation,
            normalization: architecture.normalization, cache: cache, seed: options.seed)
        let validLoader = DataLoader(
            validSet, size: size, batchSize: 64, normalization: architecture.normalization, cache: cache,
            seed: options.seed)

        let classifier = try Classifier(
            architecture, classes: dataset.classes, weights: options.weights.map { URL(fileURLWithPath: $0) })
        let metrics: [Metric] = dataset.classes.count == 2 ? [.accuracy, .rocAUC] : [.accuracy]
        let learner = try Learner(classifier, train: trainLoader, valid: validLoader, metrics: metrics)
        learner.seed = options.seed
        learner.checkpointMetadata = try SavedModel.metadata(
            architecture: architecture, classes: dataset.classes, size: size, presize: cache.shorterSide,
            head: classifier.headKind, options: String(decoding: JSONEncoder().encode(options), as: UTF8.self))

        // Precomputed activations are cached on disk under a key of everything they depend on: architecture,
        // weights, size, the split and each image's presize entry (which changes when the image does).
        let entries =
            try trainSet.items.map { try cache.entry(for: $0.url).lastPathComponent }.joined(separator: "|")
            // A validation image that vanished since listing is skipped by the loader: an empty part of the key.
            + "#"
            + validSet.items.map { (try? cache.entry(for: $0.url).lastPathComponent) ?? "" }.joined(separator: "|")
        let featureKey =
            "\(architecture.rawValue)-\(size)-\(options.weights ?? "bundled")-" + String(fnv1a(entries), radix: 16)
        var lrFinder: LRFinderResult?
        if options.lrFind {
            lrFinder = try times.time("lr-find") {
                try classifier.findHeadLearningRate(
                    trainLoader, cacheKey: featureKey + "-train",
                    mixedPrecision: options.recipe.mixedPrecision, seed: options.seed)
            }
            if let lrFinder {
                emit(String(format: "lr-find: valley %.2e, steepest %.2e", lrFinder.valley, lrFinder.steepest))
            }
        }
        let interruptURL = out.appendingPathComponent("interrupted.safetensors")
        var resumeHint = self.resumeHint ?? CommandLine.arguments.joined(separator: " ")
        if !resumeHint.contains("--resume") { resumeHint += " --resume \(interruptURL.path)" }
        learner.callbacks.append(InterruptCheckpoint(saveTo: interruptURL, resumeHint: resumeHint))
        var recipe = options.recipe
        if let resume = options.resume {
            try learner.loadCheckpoint(from: URL(fileURLWithPath: resume))
            emit("resuming from \(resume) after \(learner.epochsDone) epoch(s): running the unfrozen phase")
            recipe.precomputeEpochs = 0
            recipe.headCycles = 0
        }
        let phaseTimes = try learner.run(
            recipe, classifier: classifier, trainLoader: trainLoader, validLoader: validLoader, featureKey: featureKey)
        for name in phaseTimes.order {
            times.phases[name] = phaseTimes.phases[name]
            times.order.append(name)
        }

        // Final validation score, with TTA.
        let (probabilities, items) = try times.time("TTA") {
            try learner.predictWithTTA(validLoader, views: options.recipe.ttaViews, augmentation: augmentation)
        }
        let labels = try items.map { validSet.items[$0] }.labels()
        let accuracy = Metrics.accuracy(probabilities: probabilities, labels: labels)
        let auc = Metrics.rocAUC(probabilities: probabilities, labels: labels)
        emit(String(format: "validation with TTA: accuracy %.4f, ROC AUC %.4f", accuracy, auc))
        skipped += trainLoader.skipped.all + validLoader.skipped.all
        report(problems: skipped, skipped: true)

        // Outputs.
        let modelURL = out.appendingPathComponent("model.safetensors")
        try learner.saveCheckpoint(to: modelURL)
        try learner.recorder.historyCSV().write(
            to: out.appendingPathComponent("history.csv"), atomically: true, encoding: .utf8)
        try PredictionsFile.write(
            probabilities: probabilities, items: items.map { validSet.items[$0] }, classes: dataset.classes,
            to: out.appendingPathComponent("valid_predictions.csv"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        var used = options
        used.size = size
        used.presize = cache.shorterSide
        try encoder.encode(used).write(to: out.appendingPathComponent("config.json"))
        times.phases["presize"] = presizeSeconds
        times.order.insert("presize", at: 0)
        times.phases["total"] = Date().timeIntervalSince(total)
        times.order.append("total")
        let reportURL = out.appendingPathComponent("report.html")
        try ReportBuilder.training(
            dataset: dataset, validSet: validSet, classes: dataset.classes, recorder: learner.recorder,
            lrFinder: lrFinder,
            probabilities: probabilities, validItems: items.map { validSet.items[$0] }, times: times, problems: skipped,
            cache: cache,
            title: "Quadrat — \(architecture.rawValue) on \(URL(fileURLWithPath: options.data).lastPathComponent)"
        ).write(to: reportURL, atomically: true, encoding: .utf8)
        emit(
            "phase times: "
                + times.order.map { String(format: "%@ %.0fs", $0, times.phases[$0] ?? 0) }.joined(separator: ", "))
        return TrainingOutcome(
            validAccuracy: accuracy, validAUC: auc, times: times, modelURL: modelURL, reportURL: reportURL)
    }

    /// Lists problems with the data on standard error (the first 20).
    func report(problems: [DataProblem], skipped: Bool = false) {
        guard !problems.isEmpty else { return }
        FileHandle.standardError.write(
            Data("\(problems.count) \(skipped ? "image(s) skipped" : "problem(s) in the data, left out"):\n".utf8))
        for p in problems.prefix(20) { FileHandle.standardError.write(Data("  \(p)\n".utf8)) }
        if problems.count > 20 {
            FileHandle.standardError.write(Data("  … and \(problems.count - 20) more (run `quadrat check`)\n".utf8))
        }
    }
}
