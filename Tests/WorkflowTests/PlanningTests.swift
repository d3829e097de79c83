import Foundation
import Learn
import TestSupport
import Testing
import Torch
import Vision

@testable import Workflow

@Suite("Planning a run: epochs from the data, the budget and the machine")
struct PlanningTests {
    let machine = Throughput(unfrozenTraining: 20, frozenTraining: 45, inference: 50)

    @Test func defaultEpochsScaleWithTheData() {
        #expect(Planner.defaultUnfrozenEpochs(trainImages: 160) == 3)
        #expect(Planner.defaultUnfrozenEpochs(trainImages: 1_574) == 8)
        #expect(Planner.defaultUnfrozenEpochs(trainImages: 10_000) == 12)
        #expect(Planner.defaultUnfrozenEpochs(trainImages: 5) == 3)
        // Never more epochs for fewer images.
        let counts = [50, 200, 800, 3_000, 20_000].map { Planner.defaultUnfrozenEpochs(trainImages: $0) }
        #expect(counts == counts.sorted())
    }

    /// The probe's figure is the median step's: one step slowed by something else (3 s where the others took 0.5)
    /// does not set it, where the mean of the steps, the figure before, gave 12 img/s for a machine of 32.
    /// A profile holds for the BLAS it was measured with: the key names OpenBLAS's build and the kernels `quadrat`
    /// runs (the suited ones where OpenBLAS falls back to its generic kernels: this test process was not restarted,
    /// the `quadrat` it starts is, and both must find the same profiles).
    @Test func theMachineKeyNamesTheBLAS() {
        let key = MachineProfile.machineKey
        guard let current = BLASKernels.current else {
            #expect(!key.contains("OpenBLAS"), "\(key)")
            return
        }
        // What `quadrat` runs, worked out here from its parts rather than by BLASKernels.inQuadrat.
        let byHand = getenv("OPENBLAS_CORETYPE") != nil
        let kernels = byHand ? current : BLASKernels.suited(current: current, flags: CPUFlags.current) ?? current
        #expect(BLASKernels.inQuadrat == kernels)
        #expect(
            key.contains(", OpenBLAS ") && key.hasSuffix(" \(kernels), probe \(MachineProfile.probeRevision)"), "\(key)"
        )
        if Doctor.loadedLibraries().contains(where: { $0.contains("/openblas-openmp/") }) {
            #expect(key.contains("OpenBLAS openmp"), "\(key)")
        }
    }

    @Test func theProbeTakesTheMedianStep() {
        #expect(abs(ThroughputProbe.rate(stepSeconds: [0.5, 3.0, 0.5], batchSize: 16) - 32) < 1e-9)
        #expect(abs(ThroughputProbe.rate(stepSeconds: [0.5, 0.4, 3.0, 0.6], batchSize: 16) - 16 / 0.55) < 1e-9)
        #expect(abs(ThroughputProbe.rate(stepSeconds: [2], batchSize: 8) - 4) < 1e-9)
        #expect(ThroughputProbe.rate(stepSeconds: [], batchSize: 8) == 0)
    }

    @Test func planWithoutBudgetKeepsWhatWasAsked() {
        let p = Planner.plan(
            trainImages: 1_574, validImages: 394, throughput: machine, unfrozenEpochs: 5, headEpochs: 1, ttaViews: 7)
        #expect(p.unfrozenEpochs == 5 && p.headEpochs == 1 && p.ttaViews == 7 && p.precomputeEpochs == 3)
        // The estimate is the sum of its parts, times the safety factor.
        let fixed = Planner.fixedSeconds(trainImages: 1_574, validImages: 394, throughput: machine, lrFind: true)
        let head = Planner.epochSeconds(trainImages: 1_574, validImages: 394, rate: 45, throughput: machine)
        let unfrozen = Planner.epochSeconds(trainImages: 1_574, validImages: 394, rate: 20, throughput: machine)
        let tta = Planner.ttaSeconds(validImages: 394, views: 7, throughput: machine)
        #expect(abs(p.estimatedSeconds - 1.1 * (fixed + head + 5 * unfrozen + tta)) < 1e-9)
    }

    /// A finished run corrects the profile by what it took against the plan, so the next plan holds: the probe's
    /// synthetic batches miss the loading and augmentation of real epochs (ELPV's demo on AMD EPYC family 26 model
    /// 2 took 6:44 where the probe planned 5:22; TTA 114 s where it planned 60 s).
    @Test func aProfileLearnsFromWhatARunTook() throws {
        let probe = MachineProfile(trainingFP32: 62, trainingBF16: 55, inferenceFP32: 140, inferenceBF16: 120)
        #expect(probe.observed == nil && !probe.throughput(.auto).fromRuns)
        let learnt = probe.learning(
            epochSeconds: 31.5, plannedEpochSeconds: 28, ttaSeconds: 114, plannedTTASeconds: 60, lrFindSeconds: 15)
        let observed = try #require(learnt.observed)
        #expect(abs(observed.epochRatio - 1.125) < 1e-9 && abs(observed.ttaRatio - 1.9) < 1e-9)
        let rates = learnt.throughput(.auto)
        #expect(rates.fromRuns && rates.lrFindSeconds == 15 && abs(rates.unfrozenTraining - 62 / 1.125) < 1e-9)
        // The same epoch planned again takes what the run took; TTA too.
        let epoch = Planner.epochSeconds(
            trainImages: 1_574, validImages: 394, rate: 62, throughput: probe.throughput(.auto))
        let again = Planner.epochSeconds(
            trainImages: 1_574, validImages: 394, rate: rates.unfrozenTraining, throughput: rates)
        #expect(abs(again / epoch - 1.125) < 1e-9)
        #expect(abs(Planner.ttaSeconds(validImages: 1_050, views: 7, throughput: rates) - 8_400 / 140 * 1.9) < 1e-9)
        // A second run that took what was planned leaves the ratios; one far off moves them at most to ½ or 2.
        let steady = learnt.learning(
            epochSeconds: again, plannedEpochSeconds: again, ttaSeconds: 10, plannedTTASeconds: 10, lrFindSeconds: nil)
        #expect(steady.observed == learnt.observed)
        let wild = learnt.learning(
            epochSeconds: 1_000, plannedEpochSeconds: 10, ttaSeconds: nil, plannedTTASeconds: 10, lrFindSeconds: nil)
        #expect(wild.observed?.epochRatio == 2 && wild.observed?.ttaRatio == observed.ttaRatio)
        let slowTTA = learnt.learning(
            epochSeconds: 1, plannedEpochSeconds: 1, ttaSeconds: 100, plannedTTASeconds: 10, lrFindSeconds: nil)
        #expect(slowTTA.observed?.ttaRatio == 4)
        // Learnt rates plan without the safety margin the probe's figures get.
        let planned = Planner.plan(
            trainImages: 1_574, validImages: 394, throughput: rates, unfrozenEpochs: 8, ttaViews: 7)
        let fixed = Planner.fixedSeconds(trainImages: 1_574, validImages: 394, throughput: rates, lrFind: true)
        let head = Planner.epochSeconds(
            trainImages: 1_574, validImages: 394, rate: rates.frozenTraining, throughput: rates)
        #expect(
            abs(
                planned.estimatedSeconds
                    - (fixed + 0 * head + 8 * again
                        + Planner.ttaSeconds(
                            validImages: 394, views: 7, throughput: rates))) < 1e-9)
        // Profiles stored before the field read as the probe's.
        let old = #"{"trainingFP32": 62, "trainingBF16": 55, "inferenceFP32": 140, "inferenceBF16": 120}"#
        #expect(try JSONDecoder().decode(MachineProfile.self, from: Data(old.utf8)) == probe)
    }

    @Test func budgetGetsAsManyEpochsAsFit() {
        for budget in [120.0, 300, 600, 1200] {
            let p = Planner.plan(trainImages: 1_574, validImages: 394, throughput: machine, budget: budget)
            #expect(p.estimatedSeconds <= budget, "\(budget): \(p)")
            let more = Planner.plan(
                trainImages: 1_574, validImages: 394, throughput: machine, unfrozenEpochs: p.unfrozenEpochs + 1)
            #expect(more.estimatedSeconds > budget, "\(budget): one more epoch would still fit")
        }
        // A bigger budget never plans fewer epochs; --epochs caps what a budget can give.
        let small = Planner.plan(trainImages: 1_574, validImages: 394, throughput: machine, budget: 300)
        let big = Planner.plan(trainImages: 1_574, validImages: 394, throughput: machine, budget: 3000)
        #expect(big.unfrozenEpochs > small.unfrozenEpochs)
        let capped = Planner.plan(
            trainImages: 1_574, validImages: 394, throughput: machine, budget: 3000, unfrozenEpochs: 4)
        #expect(capped.unfrozenEpochs == 4)
    }

    @Test func tightBudgetGivesUpTTAViewsBeforeEpochs() {
        let p = Planner.plan(trainImages: 1_574, validImages: 394, throughput: machine, budget: 100)
        #expect(p.unfrozenEpochs == 0 && p.ttaViews <= 1 && p.headEpochs == 0 && p.estimatedSeconds <= 100, "\(p)")
        // Epochs come before TTA views: a budget for one epoch and no views gets the epoch.
        let one = Planner.plan(
            trainImages: 1_574, validImages: 394, throughput: machine, unfrozenEpochs: 1, ttaViews: 0)
        let epochFirst = Planner.plan(
            trainImages: 1_574, validImages: 394, throughput: machine, budget: one.estimatedSeconds + 1)
        #expect(epochFirst.unfrozenEpochs == 1 && epochFirst.ttaViews == 0, "\(epochFirst)")
        // No augmented head epoch unless asked for; cached features cost nothing.
        #expect(Planner.plan(trainImages: 100, validImages: 25, throughput: machine).headEpochs == 0)
        let cold = Planner.fixedSeconds(trainImages: 1_574, validImages: 394, throughput: machine, lrFind: true)
        let warm = Planner.fixedSeconds(
            trainImages: 1_574, validImages: 394, throughput: machine, lrFind: true, featuresCached: true)
        #expect(abs(cold - warm - 1_968.0 / 50) < 1e-9)
    }

    @Test func progressiveResizingMakesHalfTheUnfrozenEpochsCheaper() {
        let plain = Planner.plan(trainImages: 1_000, validImages: 0, throughput: machine, unfrozenEpochs: 8)
        let resized = Planner.plan(
            trainImages: 1_000, validImages: 0, throughput: machine, unfrozenEpochs: 8, smallEpochSpeedup: 2)
        let saved = 1.1 * 4 * (1_000.0 / 20) / 2  // four epochs at half the cost
        #expect(abs((plain.estimatedSeconds - resized.estimatedSeconds) - saved) < 1e-6)
    }

    @Test func durationsAsPeopleTypeThem() {
        #expect(DurationText.seconds("90") == 90)
        #expect(DurationText.seconds("90s") == 90)
        #expect(DurationText.seconds("5m") == 300)
        #expect(DurationText.seconds("1h30m") == 5400)
        #expect(DurationText.seconds("2m30s") == 150)
        #expect(DurationText.seconds("1.5m") == 90)
        for bad in ["", "m", "5x", "5m3", "-5", "abc"] { #expect(DurationText.seconds(bad) == nil, "\(bad)") }
    }

    /// `auto` trains in fp32 even where bf16 trains faster (it trained a worse model on a Zen 4), and makes bf16 only
    /// a candidate for inference where it measured faster; the run is planned in the precisions it validates in.
    @Test func precisionChoiceTrainsInFP32UnlessForced() {
        let zen4Like = MachineProfile(
            trainingFP32: 26.7, trainingBF16: 33.3, inferenceFP32: 101.3, inferenceBF16: 172.8)
        #expect(!zen4Like.trainsInBF16(.auto) && zen4Like.infersInBF16(.auto))
        #expect(zen4Like.trainsInBF16(.bf16) && !zen4Like.infersInBF16(.fp32) && !zen4Like.trainsInBF16(.fp32))
        #expect(
            zen4Like.throughput(.auto)
                == Throughput(
                    unfrozenTraining: 26.7, frozenTraining: 0.9 * 101.3, inference: 101.3,
                    tta: 2 / (1 / 101.3 + 1 / 172.8)))
        #expect(
            zen4Like.throughput(.bf16)
                == Throughput(unfrozenTraining: 33.3, frozenTraining: 0.9 * 172.8, inference: 172.8))
        #expect(
            zen4Like.summary(.auto).hasPrefix("training fp32") && zen4Like.summary(.auto).contains("bf16 a candidate"))
        let zen3Like = MachineProfile(trainingFP32: 17.2, trainingBF16: 0.8, inferenceFP32: 31.5, inferenceBF16: 1.4)
        #expect(!zen3Like.infersInBF16(.auto) && zen3Like.summary(.auto).contains("inference fp32 ("))
    }

    /// The frozen early body runs in bf16 only when the recipe asks for it, under `auto`, where that trained at least
    /// 1.1× faster (AMD Zen 4: 41.0 against 31.8 img/s), and the run is then planned at that rate; never when a
    /// precision is forced, nor where it gains less or was not measured (a CPU without bf16 instructions).
    @Test func theFrozenEarlyBodyRunsInBF16OnlyWhenAskedAndWhereThatPays() {
        var zen4Like = MachineProfile(
            trainingFP32: 31.8, trainingBF16: 33.5, inferenceFP32: 93.8, inferenceBF16: 170.7)
        #expect(!zen4Like.trainsEarlyBodyInBF16(.auto, asked: true))
        #expect(zen4Like.throughput(.auto, earlyBody: true).unfrozenTraining == 31.8)
        zen4Like.trainingEarlyBF16 = 41.0
        #expect(
            zen4Like.trainsEarlyBodyInBF16(.auto, asked: true) && !zen4Like.trainsEarlyBodyInBF16(.auto, asked: false))
        #expect(zen4Like.throughput(.auto, earlyBody: true).unfrozenTraining == 41.0)
        #expect(zen4Like.throughput(.auto).unfrozenTraining == 31.8)
        #expect(
            zen4Like.summary(.auto, earlyBody: true).hasPrefix(
                "training fp32, frozen early body bf16 (fp32 31.8 img/s, bf16 33.5, "))
        #expect(
            zen4Like.summary(.auto).hasPrefix("training fp32 (fp32 31.8 img/s, bf16 33.5, fp32 with the early body"))
        for forced in [Precision.fp32, .bf16] { #expect(!zen4Like.trainsEarlyBodyInBF16(forced, asked: true)) }
        #expect(zen4Like.throughput(.fp32, earlyBody: true).unfrozenTraining == 31.8)
        #expect(zen4Like.throughput(.bf16, earlyBody: true).unfrozenTraining == 33.5)
        zen4Like.trainingEarlyBF16 = 34.0  // 1.07×: not worth rounding for
        #expect(!zen4Like.trainsEarlyBodyInBF16(.auto, asked: true))
    }

    /// bf16 inference stands in for fp32 only when at most one decision in 200 changes and accuracy does not drop.
    @Test func bf16InferenceIsKeptOnlyWhereItAgrees() {
        let labels = Array(repeating: 1, count: 300)
        let fp32 = labels.map { _ in [0.2, 0.8] }
        var bf16 = fp32
        bf16[0] = [0.6, 0.4]  // one decision of 300 moves, and it was right: accuracy drops
        #expect(!PrecisionAgreement(fp32: fp32, bf16: bf16, labels: labels).agrees)
        var labelsWrong = labels
        labelsWrong[0] = 0  // the moved decision is now a correction: accuracy rises, 1 of 300 changed
        let corrected = PrecisionAgreement(fp32: fp32, bf16: bf16, labels: labelsWrong)
        #expect(corrected.agrees && corrected.changedDecisions == 1 && abs(corrected.largestChange - 0.4) < 1e-12)
        bf16[1] = [0.7, 0.3]
        labelsWrong[1] = 0  // two of 300: more than one in 200
        #expect(!PrecisionAgreement(fp32: fp32, bf16: bf16, labels: labelsWrong).agrees)
        #expect(
            PrecisionAgreement(fp32: fp32, bf16: fp32, labels: labels).summary.hasPrefix(
                "bf16 inference kept: 0 of 300"))
    }

    /// bf16 on a CPU without bf16 instructions (Zen 3: 0.8 img/s against 17.2) is not measured beyond its scout;
    /// a mode within 3× (the Intel Xeon's 14.3 against 27.4, or a faster one) is measured in full.
    @Test func onlyAHopelessPrecisionStopsAtItsScout() {
        #expect(MachineProfile.isHopeless(scout: 0.8, against: 17.2))
        #expect(MachineProfile.isHopeless(scout: 1.5, against: 43.8))
        #expect(!MachineProfile.isHopeless(scout: 14.3, against: 27.4))
        #expect(!MachineProfile.isHopeless(scout: 30, against: 20))
    }

    @Test func profilesAreStoredPerMachineAndModel() throws {
        let home = try Fixtures.temporaryFolder()
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        #expect(MachineProfile.stored(architecture: .efficientNetLite0, size: 224, batchSize: 32) == nil)
        let profile = MachineProfile(trainingFP32: 20, trainingBF16: 30, inferenceFP32: 50, inferenceBF16: 40)
        try profile.store(architecture: .efficientNetLite0, size: 224, batchSize: 32)
        try MachineProfile(trainingFP32: 1, trainingBF16: 2, inferenceFP32: 3, inferenceBF16: 4)
            .store(architecture: .efficientNetLite0, size: 256, batchSize: 32)
        #expect(MachineProfile.stored(architecture: .efficientNetLite0, size: 224, batchSize: 32) == profile)
        #expect(MachineProfile.stored(architecture: .resNet34, size: 224, batchSize: 32) == nil)
        // The file names the CPU it was measured on.
        let text = try String(contentsOf: MachineProfile.file, encoding: .utf8)
        #expect(text.contains(MachineProfile.cpuModel))
        // Epochs near the prediction keep the profile; epochs 3× slower forget it (and only it), so the next run
        // measures again.
        let args = (architecture: Architecture.efficientNetLite0, size: 224, batchSize: 32)
        #expect(
            MachineProfile.review(
                observedEpochSeconds: 60, expectedEpochSeconds: 45, architecture: args.architecture, size: args.size,
                batchSize: args.batchSize) == nil)
        let note = try #require(
            MachineProfile.review(
                observedEpochSeconds: 150, expectedEpochSeconds: 50, architecture: args.architecture, size: args.size,
                batchSize: args.batchSize))
        #expect(note.contains("took 150 s each where") && note.contains("the next run measures again"), "\(note)")
        #expect(MachineProfile.stored(architecture: .efficientNetLite0, size: 224, batchSize: 32) == nil)
        #expect(MachineProfile.stored(architecture: .efficientNetLite0, size: 256, batchSize: 32) != nil)
        // doctor --measure's first step: every profile of this machine forgotten.
        #expect(try MachineProfile.forget() == 1)
        #expect(MachineProfile.stored(architecture: .efficientNetLite0, size: 256, batchSize: 32) == nil)
    }

    /// The revised ETA projects the mean epoch so far over the epochs left, plus the work after them.
    @Test func revisedETAProjectsTheMeanEpoch() {
        let now = Date(timeIntervalSince1970: 1000)
        let end = RevisedETA.projectedEnd(now: now, epochsDone: 2, epochsLeft: 6, fitSeconds: 70, tail: 15)
        #expect(end.timeIntervalSince(now) == 35 * 6 + 15)
        // Under progressive resizing or an uneven first epoch the mean moves; no epochs done yet counts as one.
        #expect(RevisedETA.projectedEnd(now: now, epochsDone: 0, epochsLeft: 1, fitSeconds: 10, tail: 0) == now + 10)
    }

    /// The probe's check for other work counts other processes' CPU time, not this process's own: a spinning child
    /// shows as about one busy core, a spinning thread of ours as none.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: "/proc/stat")))
    func busyCoresCountOtherProcessesOnly() throws {
        let spinner = Process()
        spinner.executableURL = URL(fileURLWithPath: "/bin/sh")
        spinner.arguments = ["-c", "while :; do :; done"]
        try spinner.run()
        // SIGKILL: a test that installed Quadrat's signal handling leaves SIGTERM ignored, and children inherit that.
        defer { kill(spinner.processIdentifier, SIGKILL) }
        Thread.sleep(forTimeInterval: 0.2)
        let withChild = try #require(MachineProfile.busyCores(over: 0.5))
        #expect(withChild >= 0.6, "a spinning child: \(withChild) busy cores")
        kill(spinner.processIdentifier, SIGKILL)
        spinner.waitUntilExit()

        // Other work on the machine (a build beside the tests) counts as well: the least of three samples before our
        // thread spins is the bar that sample must stay near.
        var before = Double.infinity
        for _ in 0..<3 { before = min(before, try #require(MachineProfile.busyCores(over: 0.5))) }
        let stop = Locked(false)
        let spinning = Thread {
            var x = 0
            while !stop.withLock({ $0 }) { x &+= 1 }
            _ = x
        }
        spinning.start()
        defer { stop.withLock { $0 = true } }
        // The least of three samples stays within 0.8 cores of the load before only if our own thread is left out.
        var withThread = Double.infinity
        for _ in 0..<3 { withThread = min(withThread, try #require(MachineProfile.busyCores(over: 0.5))) }
        #expect(withThread < before + 0.8, "our own thread counted as other work: \(withThread) (before: \(before))")
    }
}
