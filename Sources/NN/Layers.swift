import Torch

/// Uniform in [-bound, bound): PyTorch's default initialisation of conv and linear layers
/// (Kaiming-uniform with a = √5 gives bound = 1 / √fan_in).
func uniform(_ shape: [Int], bound: Double) throws -> Tensor {
    try Tensor.rand(shape) * (2 * bound) - bound
}

/// 2-D convolution, weight (out, in / groups, kh, kw), as `torch.nn.Conv2d`.
public final class Conv2d: Module {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true
    ) throws {
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw TorchError("Conv2d: channels \(inChannels)→\(outChannels) are not divisible by groups \(groups)")
        }
        let fanIn = inChannels / groups * kernel * kernel
        let bound = 1 / Double(fanIn).squareRoot()
        weight = try uniform([outChannels, inChannels / groups, kernel, kernel], bound: bound)
        self.bias = bias ? try uniform([outChannels], bound: bound) : nil
        self.stride = (stride, stride)
        self.padding = (padding, padding)
        self.dilation = (dilation, dilation)
        self.groups = groups
        super.init()
        try registerParameter("weight", weight)
        if let b = self.bias { try registerParameter("bias", b) }
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try Functional.conv2d(
            x, weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
    }

    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        try graph.conv(
            input, weight: weight, bias: bias, stride: stride, pads: [padding.0, padding.1, padding.0, padding.1],
            dilation: dilation, groups: groups)
    }
}

/// Fully connected layer, weight (out, in), as `torch.nn.Linear`.
public final class Linear: Module {
    public let weight: Tensor
    public let bias: Tensor?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true) throws {
        let bound = 1 / Double(inFeatures).squareRoot()
        weight = try uniform([outFeatures, inFeatures], bound: bound)
        self.bias = bias ? try uniform([outFeatures], bound: bound) : nil
        super.init()
        try registerParameter("weight", weight)
        if let b = self.bias { try registerParameter("bias", b) }
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try Functional.linear(x, weight: weight, bias: bias)
    }

    /// `Gemm` with the weight transposed, as `Functional.linear` computes it.
    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        let w = try graph.constant(weight, name: "linear.weight")
        let b = try bias.map { try graph.constant($0, name: "linear.bias") }
        return graph.add("Gemm", [input, w] + (b.map { [$0] } ?? []), [("transB", .int(1))])
    }
}

/// Batch normalisation over dimension 1 (works for N×C and N×C×H×W), as `torch.nn.BatchNorm1d/2d`.
/// Holds `weight`, `bias` and the buffers `running_mean`, `running_var`, `num_batches_tracked`.
public final class BatchNorm: Module {
    public let weight: Tensor, bias: Tensor
    public let runningMean: Tensor, runningVar: Tensor, batchesTracked: Tensor
    public let eps: Double
    /// Weight of the batch statistics in the running averages (PyTorch convention: 0.1).
    public var momentum: Double
    /// When false, training mode still normalises with the running statistics and leaves them alone
    /// (used to keep frozen BatchNorm layers fixed).
    public var updatesStatistics = true

    public init(_ features: Int, eps: Double = 1e-5, momentum: Double = 0.1) throws {
        weight = try Tensor.ones([features])
        bias = try Tensor.zeros([features])
        runningMean = try Tensor.zeros([features])
        runningVar = try Tensor.ones([features])
        batchesTracked = try Tensor.zeros([], dtype: .int64)
        self.eps = eps
        self.momentum = momentum
        super.init()
        try registerParameter("weight", weight)
        try registerParameter("bias", bias)
        registerBuffer("running_mean", runningMean)
        registerBuffer("running_var", runningVar)
        registerBuffer("num_batches_tracked", batchesTracked)
    }

    /// Whether a forward pass normalises with the batch's statistics (and updates the running ones); when
    /// false, the layer is a fixed per-channel affine map that ``ConvBatchNorm`` folds into its convolution.
    public var normalisesWithBatch: Bool { isTraining && updatesStatistics }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let useBatch = normalisesWithBatch
        if useBatch {
            try Torch.withoutGrad { try batchesTracked.addInPlace(Tensor.ones([], dtype: .int64)) }
        }
        return try Functional.batchNorm(
            x, weight: weight, bias: bias, runningMean: runningMean, runningVar: runningVar,
            training: useBatch, momentum: momentum, eps: eps)
    }

    /// The transform with the running statistics as one scale and shift per channel: γ/√(σ²+ε) and
    /// β − μ·γ/√(σ²+ε), carrying gradients to γ and β.
    public func affine() throws -> (scale: Tensor, shift: Tensor) {
        let scale = try weight / (runningVar + eps).sqrt()
        return (scale, try bias - runningMean * scale)
    }

    /// ``affine()`` as constants in float32.
    public func scaleAndShift() throws -> (scale: Tensor, shift: Tensor) {
        try Torch.withoutGrad {
            let (scale, shift) = try affine()
            return (try scale.to(.float32), try shift.to(.float32))
        }
    }

    /// A per-channel `Mul` and `Add` (no BatchNormalization operator): works on N×C and N×C×H×W input,
    /// as the graph's input shape says which; `spatial` picks the constants' shape.
    public func export(_ input: String, into graph: inout InferenceGraph, spatial: Bool) throws -> String {
        let (scale, shift) = try scaleAndShift()
        let shape = spatial ? [-1, 1, 1] : [-1]
        return try graph.affine(input, scale: scale.reshaped(shape), shift: shift.reshaped(shape))
    }

    /// As ``export(_:into:spatial:)`` for N×C input (BatchNorm1d, as in classifier heads); a BatchNorm on
    /// feature maps is folded into its convolution by ``ConvBatchNorm`` instead.
    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        try export(input, into: &graph, spatial: false)
    }
}

/// `nn.BatchNorm2d` and `nn.BatchNorm1d` are one class here: batch norm over dimension 1.
public typealias BatchNorm2d = BatchNorm
public typealias BatchNorm1d = BatchNorm

/// Randomly zeroes elements in training.
public final class Dropout: Module {
    public let p: Double
    public init(_ p: Double = 0.5) {
        self.p = p
        super.init()
    }
    public override func forward(_ x: Tensor) throws -> Tensor {
        p == 0 ? x : try Functional.dropout(x, p: p, training: isTraining)
    }

    /// Identity in eval mode.
    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String { input }
}

/// max(0, x), element-wise.
public final class ReLU: Module {
    public override func forward(_ x: Tensor) throws -> Tensor { try x.relu() }
    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        graph.add("Relu", [input])
    }
}

/// min(max(x, 0), 6).
public final class ReLU6: Module {
    public override func forward(_ x: Tensor) throws -> Tensor { try x.relu6() }
    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        try graph.clip(input, low: 0, high: 6)
    }
}

/// Max or average pooling over square windows (`nn.MaxPool2d`, `nn.AvgPool2d`).
public final class Pool2d: Module {
    /// Which pooling.
    public enum Kind: Sendable { case max, average }
    public let kind: Kind
    public let kernel: Int, stride: Int, padding: Int

    public init(_ kind: Kind, kernel: Int, stride: Int? = nil, padding: Int = 0) {
        self.kind = kind
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        super.init()
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let (k, s, p) = ((kernel, kernel), (stride, stride), (padding, padding))
        switch kind {
        case .max: return try Functional.maxPool2d(x, kernel: k, stride: s, padding: p)
        case .average: return try Functional.avgPool2d(x, kernel: k, stride: s, padding: p)
        }
    }
}

/// Average pooling to a fixed output size (`nn.AdaptiveAvgPool2d`).
public final class AdaptiveAvgPool2d: Module {
    public let size: (Int, Int)
    public init(_ size: Int = 1) {
        self.size = (size, size)
        super.init()
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try Functional.adaptiveAvgPool2d(x, outputSize: size) }
}

/// Max pooling to a fixed output size (`nn.AdaptiveMaxPool2d`).
public final class AdaptiveMaxPool2d: Module {
    public let size: (Int, Int)
    public init(_ size: Int = 1) {
        self.size = (size, size)
        super.init()
    }
    public override func forward(_ x: Tensor) throws -> Tensor { try Functional.adaptiveMaxPool2d(x, outputSize: size) }
}

/// Flattens everything after the batch dimension.
public final class Flatten: Module {
    public override func forward(_ x: Tensor) throws -> Tensor { try x.flattened(from: 1) }
    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        graph.add("Flatten", [input], [("axis", .int(1))])
    }
}

/// Runs its children in order; they are named "0", "1", … as in `torch.nn.Sequential`.
public final class Sequential: Module {
    public init(_ modules: [Module]) {
        super.init()
        for (i, m) in modules.enumerated() { registerModule(String(i), m) }
    }

    public override func forward(_ x: Tensor) throws -> Tensor {
        try children.reduce(x) { try $1.module($0) }
    }

    public override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        try children.reduce(input) { try $1.module.export($0, into: &graph) }
    }
}

/// A list of modules named "0", "1", … with no forward of its own (`nn.ModuleList`).
public final class ModuleList: Module {
    public init(_ modules: [Module]) {
        super.init()
        for (i, m) in modules.enumerated() { registerModule(String(i), m) }
    }
}
