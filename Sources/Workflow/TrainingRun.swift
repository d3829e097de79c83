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
    /// The validation images and labels, with probabilities as the network gives them (not calibrated): plain
    /// and with TTA (the same when there is none). Empty on ranks other than 0.
    public var validItems: [ImageItem] = []
    public var validLabels: [Int] = []
    public var validPlain: [[Double]] = []
    public var validTTA: [[Double]] = []
}

/// The whole `train` workflow: data → split → presize → precomputed head → augmented head →
/// unfrozen → TTA → model, history, predictions, config and report in the run folder.
public struct TrainingRun {
    public var options: TrainOptions
    /// The command that resumes this run after Ctrl-C, printed with the checkpoint (default: this
    /// process's command line plus `--resume`).
    public var resumeHint: String?
    /// Data-parallel training: this process is one rank of the group (see ``DataParallel``). Every rank runs
    /// this same workflow on the same data; rank 0 takes the decisions (precision, plan, learning rate) and
    /// alone writes the run folder.
    public var group: ProcessGroup?
    /// The validation images, by position in the data set, instead of a random `validFraction` (cross-validation
    /// gives each fold's).
    public var validation: [Int]?

    public init(options: TrainOptions, resumeHint: String? = nil, group: ProcessGroup? = nil) {
        self.options = options
        self.resumeHint = resumeHint
        self.group = group
    }

    public func run() throws -> TrainingOutcome {
        try options.validate()
        let total = Date()
        Torch.useAllCores()
        Torch.manualSeed(options.seed)
        let architecture = try Architecture(named: options.arch)
        let size = options.size ?? architecture.defaultSize
        let out = URL(fileURLWithPath: options.out)
        let leads = (group?.rank ?? 0) == 0

        // Data and split.
        let dataset = try DataSource.labelled(
            URL(fileURLWithPath: options.data), nameColumn: options.nameColumn, labelColumn: options.labelColumn)
        report(problems: dataset.problems)
        let refused = DataCheck.trainingProblems(in: dataset)
        guard refused.isEmpty else {
            throw WorkflowError(
                "cannot train on \(options.data):\n" + refused.map { "  \($0)" }.joined(separator: "\n"))
        }
        // ROC AUC is recorded for two classes only: with more, keep-best and early stopping would watch nothing.
        if options.monitor == "roc_auc", dataset.classes.count != 2 {
            throw WorkflowError(
                "--monitor roc_auc needs two classes, and \(options.data) has \(dataset.classes.count): "
                    + "monitor accuracy or valid_loss")
        }
        // The run folder only now that data and options are valid, and checked writable before hours of work.
        if leads { try Self.prepareRunFolder(out) }
        var split = Split.random(
            count: dataset.items.count, fraction: options.validFraction, seed: options.seed,
            labels: dataset.items.compactMap(\.label))
        if let validation {
            let held = Set(validation)
            split = (dataset.items.indices.filter { !held.contains($0) }, validation.sorted())
        }
        let trainSet = dataset.subset(split.train), validSet = dataset.subset(split.valid)
        emit(
            "data: \(dataset.items.count) images, classes \(zip(dataset.classes, dataset.classCounts).map { "\($0) (\($1))" }.joined(separator: ", ")); train \(trainSet.items.count), valid \(validSet.items.count)"
        )

        var times = PhaseTimes()
        let cache = PresizeCache(shorterSide: options.presize ?? PresizeCache.defaultShorterSide(forSize: size))
        let presizeStart = Date()
        var skipped = try presize(dataset.items, into: cache)
        let presizeSeconds = Date().timeIntervalSince(presizeStart)

        let augmentation = options.augmentationSettings
        let trainLoader = DataLoader(
            trainSet, size: size, batchSize: options.batchSize, shuffle: true, augmentation: augmentation,
            normalization: architecture.normalization, cache: cache, seed: options.seed)
        let validLoader = DataLoader(
            validSet, size: size, batchSize: 64, normalization: architecture.normalization, cache: cache,
            seed: options.seed)
        trainLoader.balanced = options.sampler == .balanced
        if let group {
            trainLoader.shard = (group.rank, group.worldSize)
            validLoader.shard = (group.rank, group.worldSize)
        }

        let classifier = try Classifier(
            architecture, classes: dataset.classes, weights: options.weights.map { URL(fileURLWithPath: $0) })
        let metrics: [Metric] = dataset.classes.count == 2 ? [.accuracy, .rocAUC] : [.accuracy]
        let learner = try Learner(classifier, train: trainLoader, valid: validLoader, metrics: metrics)
        learner.seed = options.seed
        var trainCounts = [Int](repeating: 0, count: dataset.classes.count)
        for item in trainSet.items { if let l = item.label { trainCounts[l] += 1 } }
        if let weights = options.classWeights.weights(counts: trainCounts) {
            let w = try Tensor(weights.map(Float.init))
            learner.lossFunction = { try Functional.crossEntropy($0, target: $1, weight: w) }
            emit(
                "class weights: "
                    + zip(dataset.classes, weights).map { String(format: "%@ %.2f", $0, $1) }.joined(separator: ", "))
        }
        learner.checkpointMetadata = try SavedModel.metadata(
            architecture: architecture, classes: dataset.classes, size: size, presize: cache.shorterSide,
            head: classifier.headKind, options: String(decoding: JSONEncoder().encode(options), as: UTF8.self))
        // The Kaggle header of later predictions, kept in the model so it survives the data moving.
        learner.checkpointMetadata["label_column"] =
            options.labelColumn ?? SavedModel.labelColumn(inData: URL(fileURLWithPath: options.data)) ?? "label"

        // Precomputed activations are cached on disk under a key of everything they depend on: architecture,
        // weights, size, the split and each image's presize entry (which changes when the image does).
        // An image that cannot be read is skipped by the loader (and reported above): an empty part of the key.
        func part(_ items: [ImageItem]) -> String {
            items.map { (try? cache.entry(for: $0.url).lastPathComponent) ?? "" }.joined(separator: "|")
        }
        let entries = part(trainSet.items) + "#" + part(validSet.items)
        let featureKey =
            "\(architecture.rawValue)-\(size)-\(options.weights ?? "bundled")-" + String(fnv1a(entries), radix: 16)
        // Precision and plan: measured throughput (once per machine), then the epochs that fit; rank 0's for all.
        var decisions: RunDecisions?
        if leads {
            var recipe = options.recipe
            let profile = try machineProfile(learner, size: size)
            recipe.mixedPrecision = profile.trainsInBF16(options.precision)
            // Validation and precompute in fp32 unless bf16 is forced; bf16 may take over TTA (see below).
            recipe.inferenceMixedPrecision = options.precision == .bf16
            let plan = planRun(
                recipe: &recipe, profile: profile, size: size, trainImages: trainSet.items.count,
                validImages: validSet.items.count, elapsed: Date().timeIntervalSince(total),
                featuresCached: ["-train", "-valid"].allSatisfy {
                    FileManager.default.fileExists(atPath: Classifier.featureCacheFile(featureKey + $0).path)
                })
            decisions = RunDecisions(
                recipe: recipe, plan: plan, precision: profile.summary(options.precision),
                bf16InferenceCandidate: options.precision == .auto && profile.infersInBF16(.auto),
                // Room for TTA and the report after the last epoch.
                tailSeconds: Planner.ttaSeconds(
                    validImages: validSet.items.count, views: recipe.ttaViews,
                    throughput: profile.throughput(options.precision)) + 5)
        }
        guard let decided = try group?.share(decisions) ?? decisions else {
            throw WorkflowError("rank 0 took no decisions")  // cannot happen: rank 0 always does
        }
        var recipe = decided.recipe
        let plan = decided.plan
        emit("precision: " + decided.precision)
        // The probe drew random numbers: start the run from the same generator state whether it ran or not.
        Torch.manualSeed(options.seed)
        let eta = total.addingTimeInterval(Date().timeIntervalSince(total) + plan.estimatedSeconds)
        emit(
            "plan: \(plan.summary); about \(Feedback.clock(plan.estimatedSeconds)) more, done around \(Self.clockTime(eta))"
        )
        if let group {
            emit("data-parallel: rank \(group.rank) of \(group.worldSize), \(Torch.threads) thread(s) each")
        }

        let lrFinder = try chooseRates(
            &recipe, classifier: classifier, trainLoader: trainLoader, featureKey: featureKey, times: &times)
        learner.checkpointMetadata[Self.ratesKey] = String(
            decoding: try JSONEncoder().encode(Rates(head: recipe.headRate, unfrozen: recipe.unfrozenRates)),
            as: UTF8.self)

        let interruptURL = out.appendingPathComponent("interrupted.safetensors")
        var resumeHint = self.resumeHint ?? CommandLine.arguments.joined(separator: " ")
        if !resumeHint.contains("--resume") { resumeHint += " --resume \(interruptURL.path)" }
        let keepBest = KeepBest(monitor: options.monitor)
        let snapshots = EpochStartSnapshots()
        let averaging = recipe.averageWeights ? WeightAveraging() : nil
        let interrupt = InterruptCheckpoint(
            saveTo: interruptURL, resumeHint: resumeHint, snapshots: snapshots, keepBest: keepBest,
            averaging: averaging)
        learner.callbacks += [snapshots, interrupt, keepBest]
        if let group {
            let parallel = DataParallel(group: group)
            parallel.wantsToStop = { interrupt.isRequested }
            interrupt.agreement = parallel
            interrupt.saves = leads
            learner.callbacks.append(parallel)
            learner.predictionGroup = group
            learner.checkpointMetadata["world_size"] = String(group.worldSize)
        }
        learner.callbacks.append(RevisedETA(start: total, plannedEnd: eta, tail: decided.tailSeconds))
        if let patience = options.patience {
            learner.callbacks.append(EarlyStopping(monitor: options.monitor, patience: patience))
        }
        if let budget = options.budget {
            let timeBudget = TimeBudget(deadline: total.addingTimeInterval(budget - decided.tailSeconds))
            timeBudget.group = group
            learner.callbacks.append(timeBudget)
        }
        var resumeAt: TrainingSnapshot.Position?
        if let resume = options.resume {
            let metadata = try learner.loadCheckpoint(from: URL(fileURLWithPath: resume))
            try Self.checkWorldSize(of: resume, metadata: metadata, group: group)
            try keepBest.resume(from: URL(fileURLWithPath: resume))
            try averaging?.resume(from: URL(fileURLWithPath: resume))
            // Checkpoints from before exact resume carry no position: they go on with the whole unfrozen phase.
            let position = Learner.resumePosition(in: metadata) ?? .init(phase: "unfrozen", epoch: 0)
            resumeAt = position
            emit(
                "resuming from \(resume) after \(learner.epochsDone) epoch(s): \(position.phase) epoch \(position.epoch + 1)"
            )
        }
        var unfrozenExtras: [Callback] = averaging.map { [$0] } ?? []
        if options.progressive, let length = recipe.cycleLength {
            let small = DataLoader(
                trainSet, size: ProgressiveResizing.smallSize(for: size), batchSize: options.batchSize, shuffle: true,
                augmentation: augmentation, normalization: architecture.normalization, cache: cache, seed: options.seed)
            (small.shard, small.balanced) = (trainLoader.shard, trainLoader.balanced)
            let smallEpochs = recipe.unfrozenCycles * length / 2
            unfrozenExtras.append(ProgressiveResizing(small: small, smallEpochs: smallEpochs))
            emit("progressive resizing: the first \(smallEpochs) unfrozen epoch(s) at \(small.size) px")
        }
        let phaseTimes = try Interrupts.whileRunning(onFirstSignal: interrupt.request) {
            try learner.run(
                recipe, classifier: classifier, trainLoader: trainLoader, validLoader: validLoader,
                featureKey: featureKey, unfrozenExtras: unfrozenExtras, resumeAt: resumeAt, group: group)
        }
        for name in phaseTimes.order {
            times.phases[name] = phaseTimes.phases[name]
            times.order.append(name)
        }
        // Keep the best epoch's weights.
        if try keepBest.restoreBest(into: learner), let best = keepBest.bestEpoch, let value = keepBest.best {
            let row = learner.recorder.epochs[best]
            // Which of its phase's epochs it was, counted from 1.
            let inPhase = learner.recorder.epochs[...best].filter { $0.phase == row.phase }.count
            emit(
                String(
                    format: "kept epoch %d (%@ %d) with the best %@, %.4f", best + 1, row.phase, inPhase,
                    options.monitor, value))
            learner.checkpointMetadata["best_epoch"] = String(best + 1)
            learner.checkpointMetadata["best_\(options.monitor)"] = String(value)
        }

        // The other ranks are done: rank 0 scores, calibrates and writes the run folder with all this machine's cores.
        guard leads else { return try Self.outcomeOfOtherRank(learner, out: out, times: times) }
        if group != nil {
            (trainLoader.shard, validLoader.shard, learner.predictionGroup) = (nil, nil, nil)
            Torch.threads = ProcessInfo.processInfo.activeProcessorCount
        }

        if decided.bf16InferenceCandidate {
            let agreement = try learner.precisionAgreement(on: validLoader)
            emit(agreement.summary)
            (recipe.inferenceMixedPrecision, learner.inferenceMixedPrecision) = (agreement.agrees, agreement.agrees)
            learner.checkpointMetadata["precision_agreement"] = agreement.summary
        }
        // Final validation score, with TTA.
        let (rawProbabilities, plainProbabilities, items) = try times.time("TTA") {
            try learner.predictionsWithTTA(validLoader, views: recipe.ttaViews, augmentation: augmentation)
        }
        let labels = try items.map { validSet.items[$0] }.labels()
        // Calibration on validation: a temperature (and a binary threshold) for plain predictions and for TTA.
        let calibration = ModelCalibration(
            plain: Calibration.fit(
                probabilities: plainProbabilities, labels: labels, targetRecall: options.targetRecall),
            tta: recipe.ttaViews > 0
                ? Calibration.fit(probabilities: rawProbabilities, labels: labels, targetRecall: options.targetRecall)
                : nil)
        let shown = calibration.tta ?? calibration.plain
        let probabilities = rawProbabilities.map(shown.apply)
        learner.checkpointMetadata["calibration"] = String(
            decoding: try JSONEncoder().encode(calibration), as: UTF8.self)
        emit(
            String(
                format: "calibration: temperature %.2f, expected calibration error %.3f → %.3f%@", shown.temperature,
                Calibration.expectedCalibrationError(probabilities: rawProbabilities, labels: labels),
                Calibration.expectedCalibrationError(probabilities: probabilities, labels: labels),
                shown.threshold.map { String(format: "; threshold %.3f (%@)", $0, shown.thresholdRule ?? "") } ?? "")
                + (shown.temperatureNote.map { "; temperature \($0)" } ?? ""))
        let accuracy = Metrics.accuracy(probabilities: probabilities, labels: labels)
        let auc = Metrics.rocAUC(probabilities: probabilities, labels: labels)
        emit(String(format: "validation with TTA: accuracy %.4f, ROC AUC %.4f", accuracy, auc))
        skipped = (skipped + trainLoader.skipped.all + validLoader.skipped.all).onePerImage()
        report(problems: skipped, skipped: true)

        // Outputs. The model file and config.json carry the options as used: the user's, with the size, presize
        // and the recipe as planned (precision included, which `predict` and the demo follow).
        var used = options
        used.size = size
        used.presize = cache.shorterSide
        used.recipe = recipe
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(encoder.encode(used), to: out.appendingPathComponent("config.json"))
        learner.checkpointMetadata["options"] = String(decoding: try JSONEncoder().encode(used), as: UTF8.self)
        let modelURL = out.appendingPathComponent("model.safetensors")
        try learner.saveCheckpoint(to: modelURL)
        try AtomicFile.write(learner.recorder.historyCSV(), to: out.appendingPathComponent("history.csv"))
        try PredictionsFile.write(
            probabilities: probabilities, items: items.map { validSet.items[$0] }, classes: dataset.classes,
            to: out.appendingPathComponent("valid_predictions.csv"))
        times.phases["presize"] = presizeSeconds
        times.order.insert("presize", at: 0)
        times.phases["total"] = Date().timeIntervalSince(total)
        times.order.append("total")
        let reportURL = out.appendingPathComponent("report.html")
        let validItems = items.map { validSet.items[$0] }
        let saved = try SavedModel(modelURL)
        let report = try ReportBuilder.training(
            dataset: dataset, validSet: validSet, recorder: learner.recorder, lrFinder: lrFinder,
            evaluation: EvaluationInput(
                probabilities: probabilities, items: validItems, classes: dataset.classes, calibration: shown,
                uncalibrated: rawProbabilities, heatMap: { saved.heatMapOverlay(of: validItems[$0].url) },
                heading: recipe.ttaViews > 0 ? "Validation (with TTA ×\(recipe.ttaViews + 1))" : "Validation"),
            times: times, problems: skipped, cache: cache,
            title: "Quadrat — \(architecture.rawValue) on \(URL(fileURLWithPath: options.data).lastPathComponent)",
            run: RunFacts(
                learningRate: recipe.headRate, bestEpoch: keepBest.bestEpoch, monitor: options.monitor,
                notes: [
                    "plan: \(plan.summary)" + (options.budget.map { " (budget \(Feedback.clock($0)))" } ?? ""),
                    "precision: " + decided.precision + " on \(MachineProfile.machineKey)",
                ] + (group.map { ["data-parallel: \($0.worldSize) processes"] } ?? []),
                settings: settings(used, architecture: architecture, started: total)),
            augmentation: AugmentationPreview.rows(dataset, augmentation: augmentation, size: size, cache: cache))
        try AtomicFile.write(report, to: reportURL)
        emit(
            "phase times: "
                + times.order.map { String(format: "%@ %.0fs", $0, times.phases[$0] ?? 0) }.joined(separator: ", "))
        emit(
            String(
                format: "took %@ (planned %@)", Feedback.clock(Date().timeIntervalSince(total)),
                Feedback.clock(eta.timeIntervalSince(total))))
        // The run that an interrupted one left its checkpoint for is complete: the 75 MB file has served.
        if let resume = options.resume, URL(fileURLWithPath: resume).standardized == interruptURL.standardized {
            try? FileManager.default.removeItem(at: interruptURL)  // already gone: nothing to do
            emit("removed the checkpoint \(interruptURL.path): the resumed run is complete")
        }
        return TrainingOutcome(
            validAccuracy: accuracy, validAUC: auc, times: times, modelURL: modelURL, reportURL: reportURL,
            validItems: validItems, validLabels: labels, validPlain: plainProbabilities, validTTA: rawProbabilities)
    }

    /// This machine's measured throughput for the model and size: stored from an earlier run, or measured
    /// now (a few seconds to a minute) and stored. Measured even when the precision is forced: the plan and its
    /// ETA need the figures.
    func machineProfile(_ learner: Learner, size: Int) throws -> MachineProfile {
        let architecture = try Architecture(named: options.arch)
        if let stored = MachineProfile.stored(architecture: architecture, size: size, batchSize: options.batchSize) {
            return stored
        }
        emit("measuring this machine (once per CPU, model and size): training and inference in fp32 and bf16…")
        let busy = MachineProfile.busyCores()
        let profile = try MachineProfile.measure(
            learner, size: size, batchSize: options.batchSize, recipe: options.recipe)
        // A rank of a group measured with its share of the cores: not what a single process on this machine gets.
        guard group == nil else { return profile }
        // Measured while other work ran: figures several times too low, which every later plan would inherit.
        if let busy, busy >= MachineProfile.busyThreshold {
            emit(
                String(
                    format: "note: other work kept %.1f of %d cores busy: these measurements plan this run only "
                        + "and are not stored; the next run on a quieter machine measures again", busy,
                    ProcessInfo.processInfo.activeProcessorCount))
            return profile
        }
        do {
            try profile.store(architecture: architecture, size: size, batchSize: options.batchSize)
        } catch {
            Console.warn("note: could not store the measurements in \(MachineProfile.file.path): \(error)")
        }
        return profile
    }

    /// Plans the epochs (and, under a budget, the TTA views) into `recipe`: `--epochs` as given, or from the
    /// budget, or from the data size, as one cosine cycle; SGDR cycles when the flags or the config ask for them
    /// (`--cycles`, `--cycle-len`, `--cycle-mult`) and neither `--epochs` nor `--budget` is given.
    func planRun(
        recipe: inout Recipe, profile: MachineProfile, size: Int, trainImages: Int, validImages: Int, elapsed: Double,
        featuresCached: Bool
    ) -> TrainingPlan {
        let sgdr =
            options.epochs == nil && options.budget == nil
            && (recipe.cycleLength != nil || recipe.unfrozenCycles != 1 || recipe.cycleMult != 1)
        func plan(unfrozen: Int?) -> TrainingPlan {
            Planner.plan(
                trainImages: trainImages, validImages: validImages, throughput: profile.throughput(options.precision),
                budget: options.budget.map { $0 - elapsed }, unfrozenEpochs: unfrozen,
                headEpochs: options.headEpochs ?? recipe.headCycles * recipe.headCycleLength, ttaViews: recipe.ttaViews,
                lrFind: options.lrFind, precomputeEpochs: recipe.precomputeEpochs,
                smallEpochSpeedup: options.progressive
                    ? pow(Double(size) / Double(ProgressiveResizing.smallSize(for: size)), 2) : 1,
                featuresCached: featuresCached)
        }
        var result = plan(unfrozen: options.epochs)
        if sgdr {
            // The cycles as asked; a missing first-cycle length spreads the planned epochs over them.
            let units = (0..<recipe.unfrozenCycles).map { Int(pow(Double(recipe.cycleMult), Double($0))) }.reduce(0, +)
            if recipe.cycleLength == nil {
                recipe.cycleLength = max(1, Int((Double(result.unfrozenEpochs) / Double(max(1, units))).rounded()))
            }
            result = plan(unfrozen: units * (recipe.cycleLength ?? 1))
        } else {
            recipe.unfrozenCycles = result.unfrozenEpochs > 0 ? 1 : 0
            recipe.cycleLength = max(1, result.unfrozenEpochs)
            recipe.cycleMult = 1
        }
        (recipe.headCycles, recipe.headCycleLength) = (result.headEpochs > 0 ? 1 : 0, max(1, result.headEpochs))
        recipe.ttaViews = result.ttaViews
        return result
    }

    /// The head's rate from the LR finder's suggestion (a tenth of the rate at the lowest loss), kept within
    /// the range where the head trains well (a flat or noisy curve can put its minimum far outside it).
    /// On ELPV the curve's minimum was at 1.8e-2, so 1.8e-3; the fastai "valley" rule gave 1.7e-4 there, on the
    /// flat start of the curve, and trained the body ten times too slowly.
    static func headRate(suggested: Double) -> Double { min(1e-2, max(3e-4, suggested)) }

    /// "14:05" for a date today.
    static func clockTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm"
        return formatter.string(from: date)
    }

    /// Creates the run folder and proves it writable with a probe file, naming the folder when it is not.
    static func prepareRunFolder(_ out: URL) throws {
        let probe = out.appendingPathComponent(".quadrat-write-test-\(UUID().uuidString)")
        do {
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            AtomicFile.removeLeftovers(in: out)  // of a run killed while it saved
            try Data().write(to: probe)
            try FileManager.default.removeItem(at: probe)
        } catch {
            throw WorkflowError("the run folder \(out.path) is not writable: \(error.localizedDescription)")
        }
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
