import Foundation
import NN
import Torch
import Vision
import Workflow

/// `quadrat bench models`: inference and training images/s of EfficientNet-Lite0 and
/// ResNet-34 at 224 px, batch 32, in each memory layout and as an inference copy.
struct ModelsBenchmark {
    var batch = 32
    var size = 224
    /// Timed batches per measurement (after one warm-up batch).
    var batches = 3
    var architectures: [Architecture] = [.efficientNetLite0, .resNet34]

    struct Row {
        var architecture: Architecture
        var mode: String
        var imagesPerSecond: Double
    }

    func run() throws -> [Row] {
        var rows: [Row] = []
        for arch in architectures {
            // The fastest rate so far of each kind ("inference", "training"): a mode is compared with its own kind.
            var fastest: [Substring: Double] = [:]
            for (mode, work) in try modes(arch) {
                let kind = mode.split(separator: " ").first ?? ""
                let label =
                    arch.rawValue.padding(toLength: 20, withPad: " ", startingAt: 0)
                    + mode.padding(toLength: 42, withPad: " ", startingAt: 0)
                let rate: Double, complete: Bool
                do {
                    (rate, complete) = try measure(work, giveUpBelow: (fastest[kind] ?? 0) / 3)
                } catch {
                    emit(label + "failed: \(error)")
                    continue
                }
                fastest[kind] = max(fastest[kind] ?? 0, rate)
                rows.append(Row(architecture: arch, mode: mode, imagesPerSecond: rate))
                emit(
                    label + String(format: "%8.1f img/s", rate) + (complete ? "" : "  (warm-up only: over 3× slower)"))
            }
        }
        return rows
    }

    /// Each mode's one-batch step.
    func modes(_ arch: Architecture) throws -> [(String, () throws -> Void)] {
        Torch.manualSeed(0)
        let x = try Tensor.randn([batch, 3, size, size])
        let xCL = try x.contiguous(.channelsLast)
        let labels = try (Tensor.rand([batch]) * 1000).floor().to(.int64)

        let plain = try arch.makeNetwork(classes: 1000)
        plain.eval()
        let cl = try arch.makeNetwork(classes: 1000)
        cl.eval()
        try cl.convert(to: .channelsLast)
        let copy = try arch.makeNetwork(classes: 1000)
        try copy.prepareForInference()
        let copyBF16 = try arch.makeNetwork(classes: 1000)
        try copyBF16.prepareForInference(dtype: .bfloat16)
        let xBF16 = try xCL.to(.bfloat16)

        func trainer(
            _ format: MemoryFormat, autocast: Bool = false, earlyBodyFrozen: Bool = false, fixedStatistics: Bool = false
        ) throws -> () throws -> Void {
            try trainingStep(
                arch, input: format == .channelsLast ? xCL : x, labels: labels, format: format, autocast: autocast,
                earlyBodyFrozen: earlyBodyFrozen, fixedStatistics: fixedStatistics)
        }
        func recipeStep(earlySlices slice: Int) throws -> () throws -> Void {
            try classifierRecipeStep(arch, input: xCL, earlySlices: slice)
        }
        return [
            // In eval mode a ConvBatchNorm folds its BatchNorm on every call; the copy has it folded once.
            ("inference NCHW (BN folded per call)", { _ = try Torch.withoutGrad { try plain(x) } }),
            ("inference CL (BN folded per call)", { _ = try Torch.withoutGrad { try cl(xCL) } }),
            ("inference copy (BN folded, CL)", { _ = try Torch.inferenceMode { try copy(xCL) } }),
            // The body alone, its early group over the whole batch or photo by photo (`Classifier.evaluationSlice`).
            ("inference copy body", { _ = try Torch.inferenceMode { try copy.features(xCL) } }),
            (
                "inference copy body, early group per photo",
                {
                    _ = try Torch.inferenceMode {
                        try copy.features(xCL, earlySlices: 1, lateStage: arch.meta.lateStage)
                    }
                }
            ),
            ("inference copy bfloat16", { _ = try Torch.inferenceMode { try copyBF16(xBF16) } }),
            ("training NCHW", try trainer(.contiguous)),
            ("training channels-last", try trainer(.channelsLast)),
            (
                "training CL, fp32, both (the recipe)",
                try trainer(.channelsLast, earlyBodyFrozen: true, fixedStatistics: true)
            ),
            ("training CL, recipe, early body per batch", try recipeStep(earlySlices: batch)),
            ("training CL, recipe, early body in 4s", try recipeStep(earlySlices: 4)),
            ("training CL, bfloat16 autocast", try trainer(.channelsLast, autocast: true)),
            ("training CL, bf16, early body frozen", try trainer(.channelsLast, autocast: true, earlyBodyFrozen: true)),
            (
                "training CL, bf16, BN statistics fixed",
                try trainer(.channelsLast, autocast: true, fixedStatistics: true)
            ),
            (
                "training CL, bf16, both (the recipe)",
                try trainer(.channelsLast, autocast: true, earlyBodyFrozen: true, fixedStatistics: true)
            ),
        ]
    }

    /// One training step of `arch` (1000 classes, random weights) in `format`: with autocast, the early body frozen
    /// (as `Recipe.unfrozenFrom` 1) and BatchNorm statistics fixed (as `Recipe.freezeBatchNormStatistics`) as asked.
    func trainingStep(
        _ arch: Architecture, input: Tensor, labels: Tensor, format: MemoryFormat, autocast: Bool,
        earlyBodyFrozen: Bool, fixedStatistics: Bool
    ) throws -> () throws -> Void {
        let net = try arch.makeNetwork(classes: 1000)
        net.train()
        try net.convert(to: format)
        if fixedStatistics {
            for (_, sub) in net.namedModules() { (sub as? BatchNorm)?.updatesStatistics = false }
        }
        if earlyBodyFrozen, let early = net.bodyGroups(lateStage: arch.meta.lateStage).first {
            // No gradients (and so no backward pass) for the early body.
            for module in early {
                for p in module.parameters { try p.requiringGrad(false) }
                for (_, sub) in module.namedModules() { (sub as? BatchNorm)?.updatesStatistics = false }
            }
        }
        let optimizer = SGD(net.parameters, learningRate: 0.01, momentum: 0.9)
        return {
            try optimizer.zeroGrad()
            let loss =
                autocast
                ? try Torch.withAutocast { try Functional.crossEntropy(net(input), target: labels) }
                : try Functional.crossEntropy(net(input), target: labels)
            try loss.backward()
            try optimizer.step()
        }
    }

    /// The recipe's unfrozen step on a two-class ``Classifier`` (random weights, channels-last `input`), its fixed
    /// early group run in slices of `slice` photos (``Classifier/earlySliceSize``).
    func classifierRecipeStep(_ arch: Architecture, input: Tensor, earlySlices slice: Int) throws -> () throws -> Void {
        let pairs = try (Tensor.rand([input.shape[0]]) * 2).floor().to(.int64)
        let classifier = try Classifier(arch, classes: ["a", "b"], pretrained: false)
        classifier.train()
        try classifier.convert(to: .channelsLast)
        classifier.earlySliceSize = slice
        for (_, sub) in classifier.body.namedModules() { (sub as? BatchNorm)?.updatesStatistics = false }
        for p in classifier.layerGroups[0].flatMap(\.parameters) { try p.requiringGrad(false) }
        let optimizer = SGD(classifier.parameters.filter(\.requiresGrad), learningRate: 0.01, momentum: 0.9)
        return {
            try optimizer.zeroGrad()
            try Functional.crossEntropy(classifier(input), target: pairs).backward()
            try optimizer.step()
        }
    }

    /// Images per second over `batches` batches after one warm-up batch.
    /// A mode whose warm-up batch runs below `giveUpBelow` images/s (bf16 on a CPU without bf16 instructions
    /// runs 10–20× slower) is not timed further: its warm-up rate is returned with `complete` false.
    func measure(_ step: () throws -> Void, giveUpBelow: Double = 0) throws -> (rate: Double, complete: Bool) {
        let warmUp = DispatchTime.now().uptimeNanoseconds
        try step()
        try Torch.synchronize()  // on a GPU, the steps run after they are queued: time them until they are done
        let warmUpRate = Double(batch) / (Double(DispatchTime.now().uptimeNanoseconds - warmUp) / 1e9)
        if warmUpRate < giveUpBelow { return (warmUpRate, false) }
        let start = DispatchTime.now().uptimeNanoseconds
        for _ in 0..<batches { try step() }
        try Torch.synchronize()
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return (Double(batches * batch) / seconds, true)
    }
}
