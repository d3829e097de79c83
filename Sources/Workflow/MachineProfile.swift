import Foundation
import Learn
import Torch
import Vision

/// Which precision to run in: measured on this machine (`auto`), or forced. `int8` is for inference only (`predict`,
/// `evaluate`, `serve`): post-training quantization of the body, ``SavedModel/quantize()``.
public enum Precision: String, Codable, Sendable, CaseIterable {
    case auto, fp32, bf16, int8
}

/// What Quadrat measured about this machine for one model and input size: training and inference
/// throughput in float32 and bfloat16 autocast. Kept under `$QUADRAT_HOME/machine/` per CPU model, core
/// count and libtorch version, so only the first run on a machine pays for the probe.
public struct MachineProfile: Codable, Sendable, Equatable {
    /// Training images/s in the recipe's unfrozen mode, float32 and bfloat16 autocast.
    public var trainingFP32: Double
    public var trainingBF16: Double
    /// Training images/s in float32 with the frozen early body's forward pass under bfloat16 autocast
    /// (``Recipe/earlyBodyMixedPrecision``); nil where bf16 is hopeless here, where the recipe trains the early body
    /// (`unfrozenFrom` 0), for a model that is not a ``Classifier``, or measured before it existed.
    public var trainingEarlyBF16: Double?
    /// Evaluation images/s, float32 and bfloat16 autocast.
    public var inferenceFP32: Double
    public var inferenceBF16: Double
    /// Evaluation images/s with the body in INT8 (nil: measured before INT8 existed, or it failed here). Never chosen
    /// by `auto`: INT8 changes the answers, so it runs only when `--precision int8` asks for it.
    public var inferenceINT8: Double?
    /// What real runs took against what these figures predicted (nil until a run has finished here).
    public var observed: Observed?

    /// Real runs against the probe: a real epoch also decodes, augments and loads its photos and validates, and TTA
    /// reads every photo once per view, none of which the probe's synthetic batches do. Each finished run corrects
    /// these by what it took against what it planned (``learning(from:)``), so the next plan holds.
    public struct Observed: Codable, Sendable, Equatable {
        /// An unfrozen epoch's real seconds over the probe's estimate.
        public var epochRatio: Double
        /// TTA's real seconds (validation and held-out test) over the probe's estimate.
        public var ttaRatio: Double
        /// The LR finder's real seconds.
        public var lrFindSeconds: Double?

        public init(epochRatio: Double, ttaRatio: Double, lrFindSeconds: Double?) {
            (self.epochRatio, self.ttaRatio, self.lrFindSeconds) = (epochRatio, ttaRatio, lrFindSeconds)
        }
    }

    public init(trainingFP32: Double, trainingBF16: Double, inferenceFP32: Double, inferenceBF16: Double) {
        (self.trainingFP32, self.trainingBF16) = (trainingFP32, trainingBF16)
        (self.inferenceFP32, self.inferenceBF16) = (inferenceFP32, inferenceBF16)
    }

    /// bf16 for training only when forced: `auto` trains in fp32 whatever the speeds. bf16 autocast in training
    /// trained a faster but worse model on an AMD Zen 4 (ELPV held-out 84.3 % against 87.2 % in fp32, same split
    /// and seed) and trained slower on an Intel Xeon with AMX; a precision that trains a worse model is not faster.
    public func trainsInBF16(_ precision: Precision) -> Bool { precision == .bf16 }

    /// Training in float32 runs the frozen early body's forward pass in bf16 when the recipe asks for it
    /// (``Recipe/earlyBodyMixedPrecision``, `asked`), under `auto`, where that measured at least ``earlyBodyGain`` ×
    /// faster. Only the layers that are not trained run in bf16 (autocast rounds their weights and activations for
    /// the pass: Lite0's early output moves by about 3 %); the trained weights, every gradient, validation and TTA stay
    /// float32. Not the default: on ELPV (AMD Zen 4, three splits) it trained 10 % faster, and the held-out score moved
    /// by −0.8, +0.3 and −1.1 points (ROC AUC 0.000, +0.003, −0.015).
    public func trainsEarlyBodyInBF16(_ precision: Precision, asked: Bool) -> Bool {
        asked && precision == .auto && (trainingEarlyBF16 ?? 0) >= Self.earlyBodyGain * trainingFP32
    }

    /// The least speed-up for which ``trainsEarlyBodyInBF16(_:asked:)`` rounds the early body's output.
    public static let earlyBodyGain = 1.1

    /// The unfrozen phase's training images/s in the mode `precision` trains in (`earlyBody`: the recipe asks for
    /// the early body in bf16).
    func unfrozenTrainingRate(_ precision: Precision, earlyBody: Bool) -> Double {
        if trainsInBF16(precision) { return trainingBF16 }
        return trainsEarlyBodyInBF16(precision, asked: earlyBody) ? trainingEarlyBF16 ?? trainingFP32 : trainingFP32
    }

    /// bf16 for inference when forced, or under `auto` when it measured faster here. Under `auto` this only makes
    /// bf16 a candidate: `train` keeps it only when its validation predictions agree with fp32's
    /// (``PrecisionAgreement``).
    public func infersInBF16(_ precision: Precision) -> Bool {
        precision == .auto ? inferenceBF16 > inferenceFP32 : precision == .bf16
    }

    /// The throughput a training run is planned from, in the precisions it trains and validates in: bf16 only
    /// when forced (under `auto` the run validates in fp32, and a faster bf16 is planned for its TTA alone). A
    /// frozen-body training step costs about an evaluation forward pass. `earlyBody`: the recipe asks for the frozen
    /// early body in bf16 (``trainsEarlyBodyInBF16(_:asked:)``).
    public func throughput(_ precision: Precision, earlyBody: Bool = false) -> Throughput {
        let training = unfrozenTrainingRate(precision, earlyBody: earlyBody)
        let inference = precision == .bf16 ? inferenceBF16 : inferenceFP32
        // A bf16 candidate runs the TTA only when it agrees with fp32 (refused on 3 of the 5 ELPV models trained on
        // an AMD Zen 5): plan it at the rate of even odds, the harmonic mean of the two (the demo's plan was 19 %
        // short at bf16's rate when bf16 was refused).
        let tta = precision == .auto && infersInBF16(.auto) ? 2 / (1 / inferenceFP32 + 1 / inferenceBF16) : nil
        guard let observed else {
            return Throughput(
                unfrozenTraining: training, frozenTraining: 0.9 * inference, inference: inference, tta: tta)
        }
        // Real epochs (training and validation) and real TTA at the pace real runs kept here.
        var rates = Throughput(
            unfrozenTraining: training / observed.epochRatio, frozenTraining: 0.9 * inference / observed.epochRatio,
            inference: inference / observed.epochRatio, tta: (tta ?? inference) / observed.ttaRatio)
        rates.lrFindSeconds = observed.lrFindSeconds ?? rates.lrFindSeconds
        rates.fromRuns = true
        return rates
    }

    /// This profile corrected by a finished run: its unfrozen epochs took `epochSeconds` each where the plan said
    /// `plannedEpochSeconds`, its TTA `ttaSeconds` where the plan said `plannedTTASeconds`, its LR finder
    /// `lrFindSeconds`. The epoch ratio is kept within ½ to 2 (beyond, ``review(observedEpochSeconds:expectedEpochSeconds:architecture:size:batchSize:)``
    /// forgets the profile instead), TTA's within ¼ to 4.
    public func learning(
        epochSeconds: Double, plannedEpochSeconds: Double, ttaSeconds: Double?, plannedTTASeconds: Double,
        lrFindSeconds: Double?
    ) -> MachineProfile {
        func corrected(_ old: Double, _ seen: Double, _ planned: Double, within bound: Double) -> Double {
            guard seen > 0, planned > 0, seen.isFinite, planned.isFinite else { return old }
            return min(bound, max(1 / bound, old * seen / planned))
        }
        var copy = self
        let old = observed ?? Observed(epochRatio: 1, ttaRatio: 1, lrFindSeconds: nil)
        // TTA may be further off than epochs: it is planned at the rate of a bf16 candidate that the agreement
        // check may refuse, and it reads each photo once per view (ELPV's demo: 2.5× the plan on AMD EPYC).
        copy.observed = Observed(
            epochRatio: corrected(old.epochRatio, epochSeconds, plannedEpochSeconds, within: 2),
            ttaRatio: ttaSeconds.map { corrected(old.ttaRatio, $0, plannedTTASeconds, within: 4) } ?? old.ttaRatio,
            lrFindSeconds: lrFindSeconds ?? old.lrFindSeconds)
        return copy
    }

    /// One line for the terminal (`earlyBody`: the recipe asks for the frozen early body in bf16).
    public func summary(_ precision: Precision, earlyBody: Bool = false) -> String {
        let inference =
            switch precision {
            case .auto: infersInBF16(.auto) ? "fp32, bf16 a candidate" : "fp32"
            case .fp32, .bf16, .int8: precision.rawValue
            }
        let training =
            trainsInBF16(precision)
            ? "bf16" : trainsEarlyBodyInBF16(precision, asked: earlyBody) ? "fp32, frozen early body bf16" : "fp32"
        return String(
            format: "training %@ (fp32 %.1f img/s, bf16 %.1f%@), inference %@ (fp32 %.1f img/s, bf16 %.1f%@)",
            training, trainingFP32, trainingBF16,
            trainingEarlyBF16.map { String(format: ", fp32 with the early body in bf16 %.1f", $0) } ?? "", inference,
            inferenceFP32, inferenceBF16, inferenceINT8.map { String(format: ", int8 %.1f", $0) } ?? "")
    }
}

extension MachineProfile {
    /// The CPU model, core count, the GPU in use (where there is one), libtorch version, the OpenBLAS build and
    /// kernels, and ``probeRevision``: what the measurements hold for.
    public static var machineKey: String {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        return "\(cpuModel) × \(cores)\(gpuKey), libtorch \(Torch.version)\(blasKey), probe \(probeRevision)"
    }

    /// ", OpenBLAS openmp SkylakeX": the OpenBLAS builds in the process (the folders of Debian's openmp, pthread and
    /// serial builds; two where the alternatives mix them) and the kernels `quadrat` runs them with
    /// (``BLASKernels``: the suited ones, unless `OPENBLAS_CORETYPE` chose); nothing for another BLAS. On an Intel
    /// Xeon (family 6 model 207) the pthread build's threads beside libtorch's cost inference 25–30 % of its speed:
    /// after a change of build or kernels the probe measures again.
    /// Worked out once: the libraries and kernels do not change while the process runs, and the key is read often.
    static let blasKey: String = {
        guard let kernels = BLASKernels.inQuadrat else { return "" }
        let builds = Set(
            Doctor.loadedLibraries().compactMap { path -> String? in
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent
                return folder.hasPrefix("openblas-") ? String(folder.dropFirst("openblas-".count)) : nil
            })
        return ", OpenBLAS " + (builds.isEmpty ? "" : builds.sorted().joined(separator: "+") + " ") + kernels
    }()

    /// ", NVIDIA H100 80GB HBM3" when the default device is a GPU (the model, not the index: two of one model are
    /// one profile); nothing on the CPU, so that profiles measured before devices existed still match.
    static var gpuKey: String {
        guard case .cuda(let index) = Torch.defaultDevice else { return "" }
        // The driver described this GPU when it was chosen; should it fail now, the profile is keyed "a GPU".
        let name = (try? GPUInfo.describe(index).name) ?? "a GPU"
        return ", \(name)"
    }

    /// Raised whenever a change to Quadrat's training or evaluation path changes its speed (2: BatchNorm with fixed
    /// statistics folded into its convolution; 3: the early body in bf16 measured too; 4: the fixed early body in
    /// slices of photos; 5: evaluation photo by photo in float32, bfloat16 through oneDNN directly; 6: INT8 through
    /// oneDNN directly, float32 and bfloat16 in channel blocks; 7: INT8's stem and first depthwise convolution in
    /// float32; 8: the median of three steps, and training in float32 timed at the start and at the end; 9:
    /// inference in both precisions timed again at the end), so that machines measure again instead of planning
    /// from old rates.
    public static let probeRevision = 9

    /// `lscpu`'s "Model name", read from /proc/cpuinfo ("unknown CPU" where there is none).
    public static var cpuModel: String {
        // Not every system has /proc/cpuinfo (macOS): the key then only says so.
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") {
                return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return "unknown CPU"
    }

    /// The file of measured profiles.
    public static var file: URL { QuadratPaths.home.appendingPathComponent("machine/profiles.json") }

    /// The key of one profile in the file.
    static func key(architecture: Architecture, size: Int, batchSize: Int) -> String {
        "\(machineKey) | \(architecture.rawValue) \(size) px, batch \(batchSize)"
    }

    /// The stored profile, if this machine measured this model before.
    public static func stored(architecture: Architecture, size: Int, batchSize: Int) -> MachineProfile? {
        // An unreadable or old-format file is treated as empty: the probe runs again and rewrites it.
        guard let data = try? Data(contentsOf: file),
            let all = try? JSONDecoder().decode([String: MachineProfile].self, from: data)
        else { return nil }
        return all[key(architecture: architecture, size: size, batchSize: batchSize)]
    }

    /// Every stored profile, by key (an unreadable or absent file: none).
    static func storedProfiles() -> [String: MachineProfile] {
        // A damaged file is treated as empty: the next probe rewrites it.
        guard let data = try? Data(contentsOf: file) else { return [:] }
        return (try? JSONDecoder().decode([String: MachineProfile].self, from: data)) ?? [:]
    }

    /// Forgets this machine's stored profiles (only the one for a model, size and batch when they are given), so
    /// that the next run measures again. Returns how many were forgotten.
    @discardableResult
    public static func forget(architecture: Architecture? = nil, size: Int? = nil, batchSize: Int? = nil) throws -> Int
    {
        var all = storedProfiles()
        let doomed = all.keys.filter { key in
            if let architecture, let size, let batchSize {
                return key == Self.key(architecture: architecture, size: size, batchSize: batchSize)
            }
            return key.hasPrefix(machineKey + " |")
        }
        guard !doomed.isEmpty else { return 0 }
        for key in doomed { all[key] = nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(encoder.encode(all), to: file)
        return doomed.count
    }

    /// Stores a profile (written to a temporary file and renamed).
    public func store(architecture: Architecture, size: Int, batchSize: Int) throws {
        let url = Self.file
        var all: [String: MachineProfile] = [:]
        // As above: a damaged file is replaced.
        if let data = try? Data(contentsOf: url),
            let decoded = try? JSONDecoder().decode([String: MachineProfile].self, from: data)
        {
            all = decoded
        }
        all[Self.key(architecture: architecture, size: size, batchSize: batchSize)] = self
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(encoder.encode(all), to: url)
    }

    /// Measures a classifier learner (a few training steps and evaluation batches in each precision).
    /// bfloat16 is scouted first, on a batch of 2 after a warm-up one: when that is slower than a third of the
    /// float32 rate, the scout's rate is the measurement. On CPUs without bf16 instructions autocast runs 10–30×
    /// slower, and a full measurement took 85 s of the 91 s probe on a 2-core AMD EPYC (Zen 3); scouted, it takes
    /// seconds. Small batches cost more per image, so a mode that is fast at full batch passes the scout.
    public static func measure(
        _ learner: Learner, size: Int, batchSize: Int, recipe: Recipe
    ) throws -> MachineProfile {
        let probeBatch = min(batchSize, 16)
        func train(_ bf16: Bool, batch: Int, steps: Int = 3, earlyBody: Bool = false) throws -> Double {
            try ThroughputProbe.training(
                learner, size: size, batchSize: batch, trainableFrom: recipe.unfrozenFrom,
                fixedStatistics: recipe.freezeBatchNormStatistics, mixedPrecision: bf16,
                earlyBodyMixedPrecision: earlyBody, steps: steps)
        }
        func infer(_ bf16: Bool, batch: Int, steps: Int = 3) throws -> Double {
            try ThroughputProbe.inference(
                learner.model, size: size, batchSize: batch, mixedPrecision: bf16, steps: steps)
        }
        let fp32 = try train(false, batch: probeBatch)
        let inferenceFP32 = try infer(false, batch: 32)
        let trainingScout = try train(true, batch: scoutBatch, steps: 1)
        let bf16 = isHopeless(scout: trainingScout, against: fp32) ? trainingScout : try train(true, batch: probeBatch)
        let inferenceScout = try infer(true, batch: scoutBatch, steps: 1)
        let bf16InferenceHopeless = isHopeless(scout: inferenceScout, against: inferenceFP32)
        let inferenceBF16 = bf16InferenceHopeless ? inferenceScout : try infer(true, batch: 32)
        var profile = MachineProfile(
            trainingFP32: fp32, trainingBF16: bf16, inferenceFP32: inferenceFP32, inferenceBF16: inferenceBF16)
        // The early body runs forwards only, as in inference: worth timing where bf16 inference is not hopeless.
        if recipe.unfrozenFrom >= 1, learner.model is Classifier, !bf16InferenceHopeless {
            profile.trainingEarlyBF16 = try train(false, batch: probeBatch, earlyBody: true)
        }
        if let classifier = learner.model as? Classifier {
            // A failure costs only the figure: INT8 is never chosen from it.
            profile.inferenceINT8 = try? ThroughputProbe.int8Inference(classifier, size: size, batchSize: 32)
        }
        // Float32 training, which plans the run, timed again last and the faster figure kept. A fresh 2-core AMD EPYC
        // (Zen 4) measured 21.6 img/s in its first run, whose epochs then trained at about 36 img/s, where later
        // probes measured 32–36 (that plan said 12:54 for a run of 8:46). What slowed the start is not known (not
        // the disk cache: dropping it changed nothing); timed again after the other figures, it gets a second chance.
        profile.trainingFP32 = max(fp32, try train(false, batch: probeBatch))
        // Inference likewise, each precision keeping its faster figure: an Intel Xeon (family 6 model 207) measured
        // float32 at 122 img/s right after the first training steps, bf16 at 130, and a run then predicted in bf16,
        // which `bench inference` ran at 124–142 img/s against float32's 195–235 in the same hour.
        profile.inferenceFP32 = max(inferenceFP32, try infer(false, batch: 32))
        if !bf16InferenceHopeless { profile.inferenceBF16 = max(inferenceBF16, try infer(true, batch: 32)) }
        return profile
    }

    /// Cores kept busy by other processes, sampled over `seconds` from /proc/stat (all CPU time) less
    /// /proc/self/stat (this process's): what would slow the probe down. nil where there is no /proc.
    public static func busyCores(over seconds: Double = 0.5) -> Double? {
        guard let first = cpuTicks() else { return nil }
        Thread.sleep(forTimeInterval: seconds)
        guard let second = cpuTicks() else { return nil }
        let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))
        let others = Double((second.all - first.all) - (second.mine - first.mine))
        return max(0, others / ticksPerSecond / seconds)
    }

    /// Busy CPU ticks of the whole machine and of this process.
    static func cpuTicks() -> (all: Int, mine: Int)? {
        // Not Linux (no /proc): nothing known, and the measurement is stored as before.
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let mine = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
            let line = stat.split(separator: "\n").first, line.hasPrefix("cpu ")
        else { return nil }
        // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
        let fields = line.split(separator: " ").dropFirst().compactMap { Int($0) }
        guard fields.count >= 8 else { return nil }
        let all = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
        // The command name (field 2) may hold spaces: count from after its closing parenthesis; utime and stime
        // are fields 14 and 15, the 12th and 13th after it.
        guard let close = mine.lastIndex(of: ")") else { return nil }
        let rest = mine[mine.index(after: close)...].split(separator: " ").compactMap { Int($0) }
        // rest[0] is the state letter, dropped by compactMap: rest holds fields 4… from index 0.
        guard rest.count >= 12 else { return nil }
        return (all, rest[10] + rest[11])
    }

    /// Cores busy with other work at which a measurement is not kept: half a core. A probe taken with another job
    /// running stored fp32 3.6 / bf16 5.3 img/s where the quiet machine measured 26.7 / 33.3.
    public static let busyThreshold = 0.5

    /// The batch a slower precision is first tried on.
    static let scoutBatch = 2

    /// True when a precision scouted at `scout` img/s (small batch) cannot win against `reference` img/s (full
    /// batch): it is more than 3× slower even allowing for the small batch.
    public static func isHopeless(scout: Double, against reference: Double) -> Bool { scout * 3 < reference }
}
