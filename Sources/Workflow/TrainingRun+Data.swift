import Foundation
import Learn
import NN
import Torch
import Vision

/// The run's data, ready to train on: what the first stage of ``TrainingRun`` produces and every later one reads.
struct RunData {
    var out: URL
    var architecture: Architecture
    var size: Int
    var dataset: ImageDataset
    /// The names shown for the classes (`--class-names`, or "not invasive"/"invasive" for 0/1 labels of `invasive`).
    var classNames: [String]
    /// The label column of a Kaggle-layout CSV, kept in the model for the header of later submissions.
    var labelColumn: String
    var trainSet: ImageDataset
    var validSet: ImageDataset
    /// The labelled test photos and what to call them ("test/ (test_labels.csv)").
    var heldOut: (dataset: ImageDataset, name: String)?
    var cache: PresizeCache
    var trainLoader: DataLoader
    var validLoader: DataLoader
    var presizeSeconds: Double
    /// The seconds the split took: the near-duplicate search (and bursts, groups) behind it.
    var splitSeconds: Double
    /// Images the presize step could not read.
    var skipped: [DataProblem]
    /// What the report says of the split: groups, near-duplicate clusters, held-out photos with copies in training.
    var splitNotes: [String]
    /// The key of the precomputed activations on disk (see ``TrainingRun/featureKey(_:_:_:)``).
    var featureKey: String
    /// Rank 0's hold on the run folder, for as long as the run lives.
    var lock: RunFolderLock?
    /// The network, built (and `--weights` read) before the photos are presized: bad weights stop the run at once.
    var classifier: Classifier
}

extension TrainingRun {
    /// Stage 1: reads and checks the data, splits it, finds the held-out test set, prepares the run folder (rank 0),
    /// fills the presize cache and makes the loaders.
    func loadData() throws -> RunData {
        let architecture = options.arch
        let size = options.size ?? architecture.defaultSize
        let out = URL(fileURLWithPath: options.out)
        let dataset = try readLabelled()
        report(problems: dataset.problems)
        try check(dataset)
        let labelColumn =
            options.labelColumn ?? SavedModel.labelColumn(inData: URL(fileURLWithPath: options.data)) ?? "label"
        let names = try classNames(classes: dataset.classes, labelColumn: labelColumn)
        let heldOut = try findHeldOut(classes: dataset.classes)
        // The run folder only now that data and options are valid, and checked writable before hours of work.
        let lock = leads ? try Self.prepareRunFolder(out) : nil
        let counts = zip(names, dataset.classCounts).map { "\($0) (\($1))" }.joined(separator: ", ")
        Feedback.log(
            "data: \(dataset.items.count) images, classes \(counts)"
                + (heldOut.map { "; held-out test \($0.dataset.items.count) (\($0.name))" } ?? ""))
        let classifier = try Classifier(
            architecture, classes: dataset.classes, weights: options.weights.map { URL(fileURLWithPath: $0) })
        let cache = PresizeCache(shorterSide: options.presize ?? PresizeCache.defaultShorterSide(forSize: size))
        let presizeStart = Date()
        let skipped = try presize(dataset.items + (heldOut?.dataset.items ?? []), into: cache)
        let presizeSeconds = Date().timeIntervalSince(presizeStart)
        let splitStart = Date()
        let split = try self.split(dataset, heldOut: heldOut?.dataset, cache: cache)
        let splitSeconds = Date().timeIntervalSince(splitStart)
        split.notes.forEach(emit)
        let trainSet = dataset.subset(split.train), validSet = dataset.subset(split.valid)
        Feedback.log("split: train \(trainSet.items.count), valid \(validSet.items.count)")

        let trainLoader = DataLoader(
            trainSet, size: size, batchSize: options.batchSize, shuffle: true,
            augmentation: options.augmentationSettings, normalization: architecture.normalization, cache: cache,
            seed: options.seed)
        let validLoader = evaluationLoader(validSet, size: size, architecture: architecture, cache: cache)
        trainLoader.balanced = options.sampler == .balanced
        trainLoader.resize = options.resize
        if let group {
            trainLoader.shard = (group.rank, group.worldSize)
            validLoader.shard = (group.rank, group.worldSize)
        }
        return RunData(
            out: out, architecture: architecture, size: size, dataset: dataset, classNames: names,
            labelColumn: labelColumn, trainSet: trainSet,
            validSet: validSet, heldOut: heldOut, cache: cache, trainLoader: trainLoader, validLoader: validLoader,
            presizeSeconds: presizeSeconds, splitSeconds: splitSeconds, skipped: skipped, splitNotes: split.notes,
            featureKey: featureKey(trainSet, validSet, cache, architecture: architecture, size: size), lock: lock,
            classifier: classifier)
    }

    /// The labelled photos of `options.data`, as the task reads them (one class each, or a set of labels each).
    func readLabelled() throws -> ImageDataset {
        try options.task.workflow.labelled(
            URL(fileURLWithPath: options.data), columns: LabelColumns(options), among: nil)
    }

    /// A loader that sees every photo once, unaugmented, as validation and prediction do.
    func evaluationLoader(
        _ set: ImageDataset, size: Int, architecture: Architecture, cache: PresizeCache
    ) -> DataLoader {
        let loader = DataLoader(
            set, size: size, batchSize: DataLoader.evaluationBatchSize, normalization: architecture.normalization,
            cache: cache,
            seed: options.seed)
        loader.resize = options.resize
        return loader
    }

    /// Refuses data that cannot train (a class without photos…) and a monitor that would watch nothing.
    func check(_ dataset: ImageDataset) throws {
        let refused = DataCheck.trainingProblems(in: dataset)
        guard refused.isEmpty else {
            throw WorkflowError(
                "cannot train on \(options.data):\n" + refused.map { "  \($0)" }.joined(separator: "\n"))
        }
        // A group column that is missing or has an empty cell stops the run before any photo is presized.
        if let column = options.groupBy, column != "burst" {
            _ = try GroupColumn.values(column, of: dataset, nameColumn: options.nameColumn)
        }
        // A recall for a label the data does not have would silently decide nothing.
        if let named = options.targetRecall?.labels.keys.sorted(),
            let unknown = named.first(where: {
                !dataset.classes.contains($0)
            })
        {
            throw WorkflowError(
                option: "targetRecall",
                "names \(unknown), which is not a label of \(options.data) (its labels: "
                    + "\(dataset.classes.joined(separator: ", ")))")
        }
        // ROC AUC is recorded for two classes only: with more, keep-best and early stopping would watch nothing.
        if options.monitor == .rocAUC, dataset.classes.count != 2 {
            throw WorkflowError(
                option: "monitor",
                "roc_auc needs two classes, and \(options.data) has \(dataset.classes.count): monitor accuracy or "
                    + "valid_loss")
        }
    }

    /// The held-out test set as ``heldOut`` says: given, found beside the data, or none. Its rows that cannot be
    /// used are reported; a test set with none usable is left out with a note.
    func findHeldOut(classes: [String]) throws -> (dataset: ImageDataset, name: String)? {
        switch heldOut {
        case .none: return nil
        case .given(let set, let name):
            for problem in set.problems { Feedback.warn("held-out test: left out: \(problem)") }
            return (set, name)
        case .besideData:
            let data = URL(fileURLWithPath: options.data)
            do {
                guard
                    let set = try options.task.workflow.labelledTest(
                        besides: data, columns: LabelColumns(options), among: classes)
                else { return nil }
                for problem in set.problems { Feedback.warn("held-out test: left out: \(problem)") }
                let labels = DataSource.labelsCSV(for: DataSource.testFolder(besides: data))?.lastPathComponent ?? ""
                return (set, "test/, \(labels)")
            } catch let problem as DataProblem {
                // The training data is fine; a test folder that cannot be read only costs its score.
                Feedback.warn("note: the labelled test folder is not scored: \(problem)")
                return nil
            }
        }
    }

    /// Precomputed activations are cached on disk under a key of everything they depend on: architecture,
    /// weights, size, resize method, the split and each image's presize entry (which changes when the image does).
    /// An image that cannot be read is skipped by the loader (and reported): an empty part of the key.
    func featureKey(
        _ trainSet: ImageDataset, _ validSet: ImageDataset, _ cache: PresizeCache, architecture: Architecture,
        size: Int
    ) -> String {
        func part(_ items: [ImageItem]) -> String {
            items.map { (try? cache.entry(for: $0.url).lastPathComponent) ?? "" }.joined(separator: "|")
        }
        let entries = part(trainSet.items) + "#" + part(validSet.items)
        // The centre crop keeps the key it always had, so caches from before the resize methods stay valid.
        let method = options.resize == .crop ? "" : "-\(options.resize.rawValue)"
        // Multi-label targets are another tensor than class indices: their own entry.
        let task = options.task == .singleLabel ? "" : "-\(options.task.rawValue)"
        return "\(architecture.rawValue)-\(size)\(method)\(task)-\(options.weights ?? "bundled")-"
            + String(fnv1a(entries), radix: 16)
    }

    /// Stage 2: the network, its learner with the run's metrics and loss, and the metadata its checkpoints carry.
    func makeLearner(_ data: RunData) throws -> (Classifier, Learner) {
        let (classes, classifier) = (data.dataset.classes, data.classifier)
        let task = options.task.task
        let learner = try Learner(
            classifier, train: data.trainLoader, valid: data.validLoader,
            metrics: task.metrics(classCount: classes.count),
            optimizer: .adamW(weightDecay: options.weightDecay), task: task)
        learner.seed = options.seed
        if options.classWeights == .auto {
            let weights = task.balancingWeights(
                counts: data.trainSet.classCounts, total: data.trainSet.items.count)
            learner.lossFunction = try task.loss(weights: weights)
            Feedback.log(
                "class weights: "
                    + zip(classes, weights).map { String(format: "%@ %.2f", $0, $1) }.joined(separator: ", "))
        }
        learner.checkpointMetadata = try SavedModel.metadata(
            architecture: data.architecture, classes: classes, size: data.size, presize: data.cache.shorterSide,
            head: classifier.headKind, options: String(decoding: JSONEncoder().encode(options), as: UTF8.self))
        // The Kaggle header of later predictions, kept in the model so it survives the data moving.
        learner.checkpointMetadata["label_column"] = data.labelColumn
        learner.checkpointMetadata["resize"] = options.resize.rawValue
        learner.checkpointMetadata["task"] = options.task.rawValue
        learner.checkpointMetadata["class_names"] = String(
            decoding: try JSONEncoder().encode(data.classNames), as: UTF8.self)
        return (classifier, learner)
    }

    /// `--class-names` when given (one per class), else the default names for these labels.
    func classNames(classes: [String], labelColumn: String) throws -> [String] {
        guard let given = options.classNames else {
            return SavedModel.displayNames(classes: classes, labelColumn: labelColumn)
        }
        guard given.count == classes.count else {
            throw WorkflowError(
                option: "classNames",
                "gives \(given.count) name(s) for \(classes.count) classes "
                    + "(\(classes.joined(separator: ", "))): give one per class, in that order")
        }
        return given
    }

    /// Creates the run folder, takes its lock (one run per folder) and proves it writable with a probe file,
    /// naming the folder when it is not.
    static func prepareRunFolder(_ out: URL) throws -> RunFolderLock {
        let probe = out.appendingPathComponent(".quadrat-write-test-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        } catch {
            throw WorkflowError("the run folder \(out.path) is not writable: \(error.localizedDescription)")
        }
        let lock = try RunFolderLock(out)
        do {
            AtomicFile.removeLeftovers(in: out)  // of a run killed while it saved
            try Data().write(to: probe)
            try FileManager.default.removeItem(at: probe)
        } catch {
            throw WorkflowError("the run folder \(out.path) is not writable: \(error.localizedDescription)")
        }
        return lock
    }
}
