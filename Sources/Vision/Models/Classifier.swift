import Foundation
import NN
import Torch

/// A backbone body plus a new head: the model that transfer learning trains.
/// Parameters are named `body.*` and `head.*`.
public final class Classifier: Module {
    public let architecture: Architecture
    public let body: Backbone
    public let head: Sequential
    public let classes: [String]
    public let headKind: HeadKind
    /// The body in INT8 (``quantize(_:size:)``), which ``features(_:)`` runs instead of the float body when set.
    public private(set) var int8Body: QuantizedNetwork?

    /// Builds body + head; with `pretrained`, loads the ImageNet body weights (strictly, minus the old classifier).
    public init(
        _ architecture: Architecture, classes: [String], head: HeadKind = .fastai(), pretrained: Bool = true,
        weights: URL? = nil
    ) throws {
        guard classes.count >= 2 else {
            throw VisionError("a classifier needs at least 2 classes, got \(classes.count)")
        }
        self.architecture = architecture
        self.classes = classes
        headKind = head
        body = try architecture.makeNetwork(classes: nil, dropConnect: 0.1)
        self.head = try head.make(features: body.featureWidth, classes: classes.count)
        super.init()
        registerModule("body", body)
        registerModule("head", self.head)
        // EfficientNet-Lite's TensorFlow-style BatchNorm momentum (0.01) lets the running statistics trail the
        // batch statistics by ~100 steps: after a few epochs of fine-tuning on new images, evaluation would use
        // stale ImageNet statistics. PyTorch's 0.1 keeps up.
        for (_, module) in body.namedModules() { (module as? BatchNorm)?.momentum = 0.1 }
        if pretrained {
            let url = try architecture.weightsURL(weights)
            var state = try WeightsFile.stateDict(url)
            for key in state.keys where key.hasPrefix("_fc.") || key.hasPrefix("fc.") { state.removeValue(forKey: key) }
            do {
                try body.load(state)
            } catch let report as LoadReport {
                throw VisionError("\(url.path) does not hold \(architecture.rawValue) weights: \(report)")
            }
        }
    }

    /// Layer groups: early body, late body, head (for freezing and discriminative rates).
    public var layerGroups: [[Module]] { body.bodyGroups(lateStage: architecture.meta.lateStage) + [[head]] }

    public override func forward(_ x: Tensor) throws -> Tensor { try head(features(x)) }

    /// In training mode, run the early layer group (``layerGroups``' first) under autocast (bfloat16 on the CPU)
    /// without gradients and hand its output to the late group in float32. Only for phases that keep that group
    /// frozen: the recipe sets it for them (`Recipe.earlyBodyMixedPrecision`). Evaluation ignores it, and so does a
    /// pass while any parameter of that group trains (its BatchNorm's scale and shift, say: it would get no gradient)
    /// or a BatchNorm of it normalises with the batch's statistics.
    ///
    /// The frozen early body is only ever run forwards, and at high resolution: on an AMD Zen 4 (PyTorch over the same
    /// libtorch) its float32 forward pass took 35–39 % of an EfficientNet-Lite0 training step at 256 px, and in
    /// bfloat16 it ran about 3.6× faster.
    public var earlyBodyMixedPrecision = false

    /// Photos per slice in which a fixed early group runs in training on the CPU (``features(_:)``): 4 unless set;
    /// 0, or anything at least the batch size, runs whole batches.
    ///
    /// The early group works at high resolution: a batch of 32 at 256 px makes activations of 50–200 MB, which leave
    /// the caches between one layer and the next; over slices of 4 photos more of them stay there. On an AMD Zen 4
    /// with 2 threads (EfficientNet-Lite0 at 256 px, `quadrat bench models`) the recipe's training step gained 1–6 %,
    /// an unfrozen ELPV epoch 0–4 % (docs/measurements.md); slicing the late group too (it trains) made it slower. On
    /// a GPU batches always run whole: its random draws depend on each call's shape, and slices would only add work.
    public var earlySliceSize = 4

    /// The body's feature map: in INT8 once ``quantize(_:size:)`` has run, else in float. In evaluation it runs
    /// through oneDNN directly with ``evaluatesThroughOneDNN`` (no gradients flow through that path), else with the
    /// early group photo by photo in float32 (``evaluationSliceSize``).
    ///
    /// In training mode, while the early layer group is fixed (no parameter takes a gradient and no BatchNorm
    /// normalises with the batch's statistics: the recipe's head and unfrozen phases), that group runs without
    /// gradients (``fixedEarlyFeatures(_:lateStage:)``).
    public func features(_ x: Tensor) throws -> Tensor {
        if let int8Body { return try int8Body(x) }
        if !isTraining, evaluatesThroughOneDNN, x.dtype == .float32, !Torch.defaultDevice.isCUDA,
            x.shape[2] == x.shape[3],
            let network = oneDNNBody(side: x.shape[3], bfloat16: Torch.isAutocastEnabled)
        {
            do {
                return try network(x)
            } catch {
                // oneDNN could not plan or run this batch: ATen's path serves from now on, and reports its own errors.
                forgetOneDNNBody(side: x.shape[3], bfloat16: Torch.isAutocastEnabled)
            }
        }
        // ATen's kernels want channels-last input, like the weights (oneDNN's network reads either layout).
        let x = try x.contiguous(.channelsLast)
        let lateStage = architecture.meta.lateStage
        if !isTraining, let slice = evaluationSlice(for: x) {
            return try body.features(x, earlySlices: slice, lateStage: lateStage)
        }
        guard isTraining, earlyGroupIsFixed(lateStage) else { return try body.features(x) }
        return try body.lateFeatures(fixedEarlyFeatures(x, lateStage: lateStage), lateStage: lateStage)
    }

    /// Photos per slice in which the early group runs in evaluation (``evaluationSlice(for:)``): 1 unless set; 0 runs
    /// whole batches.
    ///
    /// In evaluation the early group's activations are the largest of the pass (Lite0's second stage at 256 px: 6 MB
    /// a photo after its expansion), and a whole batch of them leaves the caches between one layer and the next. On
    /// an AMD Zen 4 with 2 threads (`quadrat bench models --size 256`, the inference copy's features, alternated in
    /// one sitting) one photo at a time ran 114.5 img/s against 96 for batches of 32 and 121.7 against 115 for
    /// batches of 8; ResNet-34 neither gained nor lost.
    public var evaluationSliceSize = 1

    /// The slice size ``features(_:)`` uses for `x` in evaluation, or nil for whole batches: float32 on the CPU only.
    /// Under bfloat16 autocast the slices lost (Lite0, batch 32: 146 against 164 img/s), and a GPU gains nothing.
    func evaluationSlice(for x: Tensor) -> Int? {
        guard evaluationSliceSize > 0, x.shape[0] > evaluationSliceSize, x.dtype == .float32,
            !Torch.defaultDevice.isCUDA, !Torch.isAutocastEnabled
        else { return nil }
        return evaluationSliceSize
    }

    /// The fixed early group's output, without gradients: under autocast with ``earlyBodyMixedPrecision``, else in
    /// float32 over slices of ``earlySliceSize`` photos on the CPU. The slices give each photo what the whole batch
    /// gives, up to the kernels' rounding: those layers treat the photos one by one, and stochastic depth draws the
    /// same masks (``inSlices(_:of:through:)``).
    private func fixedEarlyFeatures(_ x: Tensor, lateStage: Int) throws -> Tensor {
        try Torch.withoutGrad {
            if earlyBodyMixedPrecision {
                return try Torch.withAutocast { try body.earlyFeatures(x, lateStage: lateStage) }.to(.float32)
            }
            let size = Torch.defaultDevice.isCUDA || earlySliceSize < 1 ? x.shape[0] : earlySliceSize
            return try Self.inSlices(x, of: size, through: body.earlySteps(lateStage: lateStage))
        }
    }

    /// `steps` applied in turn to `x`, each over slices of `size` photos (the last one shorter) joined again before
    /// the next. Step by step, each over every slice in turn, a step that draws one random number per photo on the
    /// CPU (stochastic depth's `Tensor.rand`, whose uniform draws are serial) draws the whole batch's numbers.
    static func inSlices(_ x: Tensor, of size: Int, through steps: [(Tensor) throws -> Tensor]) throws -> Tensor {
        let count = x.shape[0]
        guard count > size else { return try steps.reduce(x) { try $1($0) } }
        return try steps.reduce(x) { y, step in
            try Tensor.cat(
                stride(from: 0, to: count, by: size).map { try step(y.narrowed(dim: 0, $0..<min($0 + size, count))) })
        }
    }

    /// True when no parameter of the early layer group takes a gradient and no BatchNorm of it normalises with the
    /// batch's statistics: the group is then a fixed function of each photo (but for stochastic depth's draws).
    private func earlyGroupIsFixed(_ lateStage: Int) -> Bool {
        body.bodyGroups(lateStage: lateStage)[0].allSatisfy { module in
            module.parameters.allSatisfy { !$0.requiresGrad }
                && !module.namedModules().contains { ($0.module as? BatchNorm)?.normalisesWithBatch == true }
        }
    }

    /// The body's graph for a square input of `size` pixels: input `image` (normalised), output the feature map.
    public func bodyGraph(size: Int) throws -> (graph: InferenceGraph, output: String) {
        var graph = InferenceGraph()
        let output = try body.exportFeatures(Self.graphInput, side: size, into: &graph)
        return (graph, output)
    }

    /// The input name of ``bodyGraph(size:)``.
    public static let graphInput = "image"

    /// Runs the body in INT8 from now on, quantized with `ranges`
    /// (``ActivationRanges/observe(_:input:output:batches:)``
    /// on ``bodyGraph(size:)``) for `size`-pixel input.
    public func quantize(_ ranges: ActivationRanges, size: Int) throws {
        let (graph, output) = try bodyGraph(size: size)
        int8Body = try QuantizedNetwork(graph, input: Self.graphInput, output: output, ranges: ranges)
    }

    /// Whether the body's evaluation passes on the CPU (square float32 batches) run through oneDNN directly
    /// (``OneDNNNetwork``), in bfloat16 under autocast and in float32 otherwise: its weights as they are when a batch
    /// of a new size in pixels first comes, BatchNorms folded and reordered once into the layout oneDNN's kernels
    /// pick; activations kept in that layout (and in bfloat16 under autocast) from the first convolution to the last,
    /// each ReLU6 and residual sum fused. Only for weights that no longer change (a model read back to predict, a
    /// check right after training); setting it drops the networks made so far. Where this build or this CPU has no
    /// oneDNN kernels, the body's graph holds an operator it does not run, or a run fails, ATen's path is taken.
    ///
    /// ATen runs each activation and sum as a pass of its own, and autocast casts each convolution's input and weights
    /// at every call: on an AMD Zen 4 with 2 threads (the ELPV demo's Lite0 at 256 px, `quadrat bench inference
    /// --rounds 3`, batches of 8 and 32) the model ran 140–154 img/s in float32 against ATen's 123–128, and 246–271
    /// in bfloat16 against autocast's 183–188 (ONNX Runtime's float32: 140–158).
    public var evaluatesThroughOneDNN = false {
        didSet { oneDNNBodies.withLock { $0 = [:] } }
    }

    /// The oneDNN bodies made so far, by side in pixels and precision (nil: it could not be made).
    private let oneDNNBodies = Locked<[OneDNNKey: OneDNNNetwork?]>([:])
    private struct OneDNNKey: Hashable {
        var side: Int, bfloat16: Bool
    }

    /// The oneDNN body for `side`-pixel input in bfloat16 or float32, made on the first call for them; nil where it
    /// cannot be made.
    public func oneDNNBody(side: Int, bfloat16: Bool) -> OneDNNNetwork? {
        oneDNNBodies.withLock { made in
            let key = OneDNNKey(side: side, bfloat16: bfloat16)
            if let network = made[key] { return network }
            // Without oneDNN in this build, or with an operator it does not run, ATen's path serves instead.
            let network = OneDNNNetwork.isAvailable ? try? oneDNNNetwork(side: side, bfloat16: bfloat16) : nil
            made[key] = .some(network)
            return network
        }
    }

    /// `work` with ``evaluatesThroughOneDNN`` on when `model` is a classifier (as a model read back to predict runs),
    /// its setting restored afterwards: for checks and measurements on weights that train on after them.
    public static func evaluatingThroughOneDNN<R>(_ model: Module, _ work: () throws -> R) rethrows -> R {
        // Already on (a check inside the run's scoring): keep the networks made so far, which setting it would drop.
        guard let classifier = model as? Classifier, !classifier.evaluatesThroughOneDNN else { return try work() }
        classifier.evaluatesThroughOneDNN = true
        defer { classifier.evaluatesThroughOneDNN = false }
        return try work()
    }

    /// Keeps ATen's path for `side` pixels in that precision from now on.
    private func forgetOneDNNBody(side: Int, bfloat16: Bool) {
        oneDNNBodies.withLock { $0[OneDNNKey(side: side, bfloat16: bfloat16)] = .some(nil) }
    }

    private func oneDNNNetwork(side: Int, bfloat16: Bool) throws -> OneDNNNetwork {
        let (graph, output) = try bodyGraph(size: side)
        return try OneDNNNetwork(graph, input: Self.graphInput, output: output, bfloat16: bfloat16)
    }

    /// The whole network in eval mode as graph nodes: body then head, from `input` (normalised, N×3×side×side)
    /// to the logits.
    public func export(_ input: String, side: Int, into graph: inout InferenceGraph) throws -> String {
        try exportWithPooled(input, side: side, into: &graph).logits
    }

    /// ``export(_:side:into:)``, also naming the pooled features the head's first BatchNorm reads (what
    /// ``pooledFeatures(_:)`` computes: the distance to the training photos is measured on them). With `int8`
    /// ranges, the body is written in ONNX's QDQ form
    /// (``QuantizedNetwork/exportQDQ(_:input:output:ranges:image:into:)``).
    public func exportWithPooled(
        _ input: String, side: Int, into graph: inout InferenceGraph, int8: ActivationRanges? = nil
    ) throws -> (pooled: String, logits: String) {
        var pooled: String
        if let int8 {
            let (body, output) = try bodyGraph(size: side)
            pooled = try QuantizedNetwork.exportQDQ(
                body, input: Self.graphInput, output: output, ranges: int8, image: input, into: &graph)
        } else {
            pooled = try body.exportFeatures(input, side: side, into: &graph)
        }
        for (_, layer) in head.children.prefix(2) { pooled = try layer.export(pooled, into: &graph) }
        let logits = try head.children.dropFirst(2).reduce(pooled) { try $1.module.export($0, into: &graph) }
        return (pooled, logits)
    }
}
