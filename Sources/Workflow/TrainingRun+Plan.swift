import Foundation
import Learn
import Torch
import Vision

extension TrainingRun {
    /// Stage 3: rank 0 measures the machine (once per CPU, model and size), picks the precision and plans the
    /// epochs (and under a budget the TTA views); every rank takes rank 0's decisions.
    func decide(_ data: RunData, learner: Learner, start: Date) throws -> RunDecisions {
        var decisions: RunDecisions?
        if leads {
            var recipe = options.recipe
            let (profile, wasStored) = try machineProfile(learner, size: data.size)
            recipe.mixedPrecision = profile.trainsInBF16(options.precision)
            // Only where the unfrozen phase keeps the early body frozen: a profile measured with it frozen may serve
            // a run that trains it.
            let earlyBody =
                recipe.unfrozenFrom >= 1
                && profile.trainsEarlyBodyInBF16(options.precision, asked: options.recipe.earlyBodyMixedPrecision)
            recipe.earlyBodyMixedPrecision = earlyBody
            // Validation and precompute in fp32 unless bf16 is forced; bf16 may take over TTA (see `score`).
            recipe.inferenceMixedPrecision = options.precision == .bf16
            let plan = planRun(
                recipe: &recipe, profile: profile, size: data.size, trainImages: data.trainSet.items.count,
                validImages: data.validSet.items.count, testImages: data.heldOut?.dataset.items.count ?? 0,
                elapsed: Date().timeIntervalSince(start),
                featuresCached: ["-train", "-valid"].allSatisfy {
                    FileManager.default.fileExists(atPath: Classifier.featureCacheFile(data.featureKey + $0).path)
                })
            let rates = profile.throughput(options.precision, earlyBody: earlyBody)
            let tta = Planner.ttaSeconds(
                validImages: data.validSet.items.count + (data.heldOut?.dataset.items.count ?? 0),
                views: recipe.ttaViews, throughput: rates)
            let epoch = Planner.epochSeconds(
                trainImages: data.trainSet.items.count, validImages: data.validSet.items.count,
                rate: rates.unfrozenTraining, throughput: rates)
            decisions = RunDecisions(
                recipe: recipe, plan: plan, precision: profile.summary(options.precision, earlyBody: earlyBody),
                bf16InferenceCandidate: options.precision == .auto && profile.infersInBF16(.auto),
                // Room for TTA (validation and held-out test) and the report after the last epoch.
                tailSeconds: tta + 5, expectedEpochSeconds: wasStored ? epoch : nil, plannedEpochSeconds: epoch,
                plannedTTASeconds: tta)
        }
        guard let decided = try group?.share(decisions) ?? decisions else {
            throw WorkflowError("rank 0 took no decisions")  // cannot happen: rank 0 always does
        }
        Feedback.log("precision: " + decided.precision)
        let eta = start.addingTimeInterval(Date().timeIntervalSince(start) + decided.plan.estimatedSeconds)
        Feedback.log(
            "plan: \(decided.plan.summary); about \(Feedback.clock(decided.plan.estimatedSeconds)) more, done around "
                + Self.clockTime(eta))
        if let group {
            Feedback.log("data-parallel: rank \(group.rank) of \(group.worldSize), \(Torch.threads) thread(s) each")
        }
        var result = decided
        result.plannedEnd = eta
        return result
    }

    /// This machine's measured throughput for the model and size: stored from an earlier run, or measured
    /// now (a few seconds to a minute) and stored. Measured even when the precision is forced: the plan and its
    /// ETA need the figures.
    func machineProfile(_ learner: Learner, size: Int) throws -> (profile: MachineProfile, wasStored: Bool) {
        let architecture = options.arch
        if let stored = MachineProfile.stored(architecture: architecture, size: size, batchSize: options.batchSize) {
            return (stored, true)
        }
        Feedback.log("measuring this machine (once per CPU, model and size): training and inference in fp32 and bf16…")
        // A rank of a group measures with its share of the cores: not what a single process on this machine gets.
        let (profile, note) = try MachineProfile.probe(
            learner, architecture: architecture, size: size, batchSize: options.batchSize, recipe: options.recipe,
            store: group == nil)
        if let note { Feedback.log("note: " + note + " (these measurements plan this run only)") }
        return (profile, false)
    }

    /// After the fit: a stored profile whose prediction the unfrozen epochs contradict is forgotten (see
    /// ``MachineProfile/review(observedEpochSeconds:expectedEpochSeconds:architecture:size:batchSize:)``).
    /// The first unfrozen epoch is left out (warm-up), and so are runs whose plan did not come from the store and runs
    /// whose epochs disagree with one another (``steadyEpochSeconds(_:)``).
    func reviewStoredProfile(_ learner: Learner, decided: RunDecisions, data: RunData) {
        guard let expected = decided.expectedEpochSeconds, group == nil, !options.progressive,
            let observed = Self.steadyEpochSeconds(
                learner.recorder.epochs.filter { $0.phase == "unfrozen" }.map(\.seconds))
        else { return }
        if let note = MachineProfile.review(
            observedEpochSeconds: observed, expectedEpochSeconds: expected, architecture: data.architecture,
            size: data.size, batchSize: options.batchSize)
        {
            Feedback.log(note)
        }
    }

    /// After scoring: the stored profile learns what this run's unfrozen epochs, TTA and LR finder really took
    /// against the plan (``MachineProfile/learning(epochSeconds:plannedEpochSeconds:ttaSeconds:plannedTTASeconds:lrFindSeconds:)``),
    /// so that the next plan's ETA holds. A single process only, with the whole machine: the figures of a rank, of
    /// progressive resizing (smaller epochs) or of a run that stopped early say nothing of a plain run.
    func learnFromRun(_ learner: Learner, decided: RunDecisions, data: RunData, times: PhaseTimes) {
        guard group == nil, !options.progressive, decided.plannedEpochSeconds > 0,
            let profile = MachineProfile.stored(
                architecture: data.architecture, size: data.size, batchSize: options.batchSize)
        else { return }
        let epochs = learner.recorder.epochs.filter { $0.phase == "unfrozen" }.map(\.seconds)
        guard let epochSeconds = Self.steadyEpochSeconds(epochs) else {
            if let fastest = epochs.dropFirst().min(), let slowest = epochs.dropFirst().max() {
                Feedback.log(
                    String(
                        format: "note: the unfrozen epochs took %.0f to %.0f s: the machine was shared, so the next "
                            + "plan does not learn from this run", fastest, slowest))
            }
            return
        }
        let tta = ["TTA", "held-out test"].compactMap { times.phases[$0] }.reduce(0, +)
        let learnt = profile.learning(
            epochSeconds: epochSeconds, plannedEpochSeconds: decided.plannedEpochSeconds,
            ttaSeconds: decided.plannedTTASeconds > 1 ? tta : nil, plannedTTASeconds: decided.plannedTTASeconds,
            lrFindSeconds: times.phases["lr-find"])
        // Storing only improves the next plan: a file that cannot be written costs nothing else.
        try? learnt.store(architecture: data.architecture, size: data.size, batchSize: options.batchSize)
    }

    /// The unfrozen epochs' mean time, from `seconds` (each epoch's, in order), when they agree with one another: the
    /// first is left out (it warms up: allocations, oneDNN's kernels), and epochs whose slowest took more than
    /// ``steadySpread`` times the fastest ran on a shared machine and say nothing of its pace (nil then, as with no
    /// epoch after the first). A demo on AMD EPYC with a build beside it took 48 to 134 s an epoch; the next plan,
    /// learnt from it, said 13:28 for a run of 9:07. Quiet runs stayed within 1.15.
    static func steadyEpochSeconds(_ seconds: [Double]) -> Double? {
        let epochs = seconds.dropFirst()
        guard let fastest = epochs.min(), let slowest = epochs.max(), fastest > 0, slowest <= steadySpread * fastest
        else { return nil }
        return epochs.reduce(0, +) / Double(epochs.count)
    }

    /// How far apart a run's unfrozen epochs may be for its pace to count (``steadyEpochSeconds(_:)``).
    static let steadySpread = 1.5

    /// Plans the epochs (and, under a budget, the TTA views) into `recipe`: `--epochs` as given, or from the
    /// budget, or from the data size, as one cosine cycle; SGDR cycles when the flags or the config ask for them
    /// (`--cycles`, `--cycle-len`, `--cycle-mult`) and neither `--epochs` nor `--budget` is given.
    func planRun(
        recipe: inout Recipe, profile: MachineProfile, size: Int, trainImages: Int, validImages: Int, testImages: Int,
        elapsed: Double, featuresCached: Bool
    ) -> TrainingPlan {
        let sgdr =
            options.epochs == nil && options.budget == nil
            && (recipe.cycleLength != nil || recipe.unfrozenCycles != 1 || recipe.cycleMult != 1)
        func plan(unfrozen: Int?) -> TrainingPlan {
            Planner.plan(
                trainImages: trainImages, validImages: validImages, testImages: testImages,
                throughput: profile.throughput(options.precision, earlyBody: recipe.earlyBodyMixedPrecision),
                budget: options.budget.map { $0.seconds - elapsed }, unfrozenEpochs: unfrozen,
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
    static func headRate(suggested: Double) -> Double {
        min(headRateRange.upperBound, max(headRateRange.lowerBound, suggested))
    }

    /// The rates the LR finder's suggestion is kept within.
    static let headRateRange = 3e-4...1e-2
}
