import Foundation
import Learn
import Torch
import Vision

/// What the fit stage leaves for the later ones.
struct FitResult {
    /// Index into the recorder's epochs of the epoch whose weights were kept (nil: the last).
    var bestEpoch: Int?
}

extension TrainingRun {
    /// Stage 5: the callbacks (checkpoint on Ctrl-C, keep-best, weight averaging, data-parallel, the revised ETA,
    /// early stopping, the time budget), a resumed checkpoint, the recipe's phases, then the best epoch's weights.
    func fit(
        _ data: RunData, classifier: Classifier, learner: Learner, recipe: Recipe, decided: RunDecisions, start: Date,
        times: inout PhaseTimes
    ) throws -> FitResult {
        let interruptURL = data.out.appendingPathComponent("interrupted.safetensors")
        var resumeHint = self.resumeHint ?? CommandLine.arguments.joined(separator: " ")
        if !resumeHint.contains("--resume") { resumeHint += " --resume \(interruptURL.path)" }
        let keepBest = KeepBest(monitor: options.monitored.rawValue)
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
        let plannedEnd = decided.plannedEnd ?? start.addingTimeInterval(decided.plan.estimatedSeconds)
        learner.callbacks.append(RevisedETA(start: start, plannedEnd: plannedEnd, tail: decided.tailSeconds))
        if let patience = options.patience {
            learner.callbacks.append(EarlyStopping(monitor: options.monitored.rawValue, patience: patience))
        }
        if let budget = options.budget {
            let timeBudget = TimeBudget(deadline: start.addingTimeInterval(budget.seconds - decided.tailSeconds))
            timeBudget.group = group
            learner.callbacks.append(timeBudget)
        }
        let resumeAt = try resume(learner, keepBest: keepBest, averaging: averaging)
        var unfrozenExtras: [Callback] = averaging.map { [$0] } ?? []
        if options.progressive, let resizing = progressiveResizing(data, recipe: recipe) {
            unfrozenExtras.append(resizing)
        }
        let phaseTimes = try Interrupts.whileRunning(onFirstSignal: interrupt.request) {
            try learner.run(
                recipe, classifier: classifier, trainLoader: data.trainLoader, validLoader: data.validLoader,
                featureKey: data.featureKey, unfrozenExtras: unfrozenExtras, resumeAt: resumeAt, group: group)
        }
        for name in phaseTimes.order {
            times.phases[name] = phaseTimes.phases[name]
            times.order.append(name)
        }
        try keepBestEpoch(keepBest, learner: learner)
        if leads { reviewStoredProfile(learner, decided: decided, data: data) }
        return FitResult(bestEpoch: keepBest.bestEpoch)
    }

    /// Loads `--resume`'s checkpoint into the learner and the callbacks that keep state; the position to go on from.
    func resume(
        _ learner: Learner, keepBest: KeepBest, averaging: WeightAveraging?
    ) throws -> TrainingSnapshot.Position? {
        guard let resume = options.resume else { return nil }
        let metadata = try learner.loadCheckpoint(from: URL(fileURLWithPath: resume))
        try Self.checkWorldSize(of: resume, metadata: metadata, group: group)
        try keepBest.resume(from: URL(fileURLWithPath: resume))
        try averaging?.resume(from: URL(fileURLWithPath: resume))
        // Checkpoints from before exact resume carry no position: they go on with the whole unfrozen phase.
        let position = Learner.resumePosition(in: metadata) ?? .init(phase: "unfrozen", epoch: 0)
        Feedback.log(
            "resuming from \(resume) after \(learner.epochsDone) epoch(s): \(position.phase) epoch \(position.epoch + 1)"
        )
        return position
    }

    /// `--progressive`: the first half of the unfrozen epochs on a loader at three quarters of the size.
    func progressiveResizing(_ data: RunData, recipe: Recipe) -> ProgressiveResizing? {
        guard let length = recipe.cycleLength else { return nil }
        let small = DataLoader(
            data.trainSet, size: ProgressiveResizing.smallSize(for: data.size), batchSize: options.batchSize,
            shuffle: true, augmentation: options.augmentationSettings, normalization: data.architecture.normalization,
            cache: data.cache, seed: options.seed)
        (small.shard, small.balanced, small.resize) =
            (data.trainLoader.shard, data.trainLoader.balanced, data.trainLoader.resize)
        let smallEpochs = recipe.unfrozenCycles * length / 2
        Feedback.log("progressive resizing: the first \(smallEpochs) unfrozen epoch(s) at \(small.size) px")
        return ProgressiveResizing(small: small, smallEpochs: smallEpochs)
    }

    /// Puts the best epoch's weights back and records which it was.
    func keepBestEpoch(_ keepBest: KeepBest, learner: Learner) throws {
        guard try keepBest.restoreBest(into: learner), let best = keepBest.bestEpoch, let value = keepBest.best else {
            return
        }
        let row = learner.recorder.epochs[best]
        // Which of its phase's epochs it was, counted from 1.
        let inPhase = learner.recorder.epochs[...best].filter { $0.phase == row.phase }.count
        Feedback.log(
            String(
                format: "kept epoch %d (%@ %d) with the best %@, %.4f", best + 1, row.phase, inPhase,
                options.monitored.rawValue,
                value))
        learner.checkpointMetadata["best_epoch"] = String(best + 1)
        learner.checkpointMetadata["best_\(options.monitored.rawValue)"] = String(value)
    }
}
