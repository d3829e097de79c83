import Foundation
import NN
import Torch

/// EfficientNet-Lite0/1/2 (Tan & Le, 2019, the TensorFlow-Lite variant): no squeeze-excitation,
/// ReLU6, BatchNorm ε 1e-3, TensorFlow "SAME" padding, stem and head not scaled.
/// Parameter names match the `efficientnet-lite-pytorch` package and its checkpoints.
public final class EfficientNetLite: Module {
    /// The three sizes with ImageNet checkpoints.
    public enum Variant: String, CaseIterable, Sendable {
        case lite0, lite1, lite2

        /// (width, depth, resolution, dropout) from the reference builder.
        var coefficients: (width: Double, depth: Double, resolution: Int, dropout: Double) {
            switch self {
            case .lite0: (1.0, 1.0, 224, 0.2)
            case .lite1: (1.0, 1.1, 240, 0.2)
            case .lite2: (1.1, 1.2, 260, 0.3)
            }
        }

        /// The input size the variant was trained at.
        public var defaultSize: Int { coefficients.resolution }
    }

    /// One stage of the block table: repeats, kernel, stride, expansion, input and output channels.
    struct Stage { var repeats, kernel, stride, expansion, input, output: Int }

    static let stages = [
        Stage(repeats: 1, kernel: 3, stride: 1, expansion: 1, input: 32, output: 16),
        Stage(repeats: 2, kernel: 3, stride: 2, expansion: 6, input: 16, output: 24),
        Stage(repeats: 2, kernel: 5, stride: 2, expansion: 6, input: 24, output: 40),
        Stage(repeats: 3, kernel: 3, stride: 2, expansion: 6, input: 40, output: 80),
        Stage(repeats: 3, kernel: 5, stride: 1, expansion: 6, input: 80, output: 112),
        Stage(repeats: 4, kernel: 5, stride: 2, expansion: 6, input: 112, output: 192),
        Stage(repeats: 1, kernel: 3, stride: 1, expansion: 6, input: 192, output: 320),
    ]

    public let variant: Variant
    public let stem: ConvBatchNorm
    public let blocks: [MBConvBlock]
    public let head: ConvBatchNorm
    /// The ImageNet classifier, absent when built as a body for transfer learning.
    public let classifier: Linear?
    public let dropout: Double
    /// Index of the first block of each stage of ``stages``.
    public let stageStarts: [Int]

    /// - Parameters:
    ///   - classes: size of the final linear layer; nil builds the body only (output: the 1280-channel map).
    ///   - dropConnect: stochastic-depth rate of the last block (scaled linearly from 0), as in the reference.
    ///   - dropout: dropout before the classifier (default: the variant's, 0.2–0.3).
    public init(_ variant: Variant, classes: Int? = 1000, dropConnect: Double = 0.2, dropout: Double? = nil) throws {
        self.variant = variant
        let c = variant.coefficients
        self.dropout = dropout ?? c.dropout
        stem = ConvBatchNorm(
            try Conv2d(3, 32, kernel: 3, stride: 2, bias: false), try BatchNorm2d(32, eps: 1e-3, momentum: 0.01))
        var blocks: [MBConvBlock] = []
        var starts: [Int] = []
        for (i, stage) in Self.stages.enumerated() {
            let fixed = i == 0 || i == Self.stages.count - 1
            let repeats = fixed ? stage.repeats : Int((c.depth * Double(stage.repeats)).rounded(.up))
            let input = i == 0 ? 32 : Self.roundFilters(stage.input, width: c.width)
            let output = Self.roundFilters(stage.output, width: c.width)
            starts.append(blocks.count)
            for r in 0..<repeats {
                blocks.append(
                    try MBConvBlock(
                        input: r == 0 ? input : output, output: output, kernel: stage.kernel,
                        stride: r == 0 ? stage.stride : 1, expansion: stage.expansion))
            }
        }
        for (i, block) in blocks.enumerated() { block.dropConnect = dropConnect * Double(i) / Double(blocks.count) }
        self.blocks = blocks
        stageStarts = starts
        let last = blocks.last?.outputChannels ?? 320
        head = ConvBatchNorm(
            try Conv2d(last, 1280, kernel: 1, bias: false), try BatchNorm2d(1280, eps: 1e-3, momentum: 0.01))
        classifier = try classes.map { try Linear(1280, $0) }
        super.init()
        registerModule("_conv_stem", stem.conv)
        registerModule("_bn0", stem.bn)
        registerModule("_blocks", ModuleList(blocks))
        registerModule("_conv_head", head.conv)
        registerModule("_bn1", head.bn)
        if let classifier { registerModule("_fc", classifier) }
    }

    /// The reference's `round_filters`: scale by width, round to a multiple of 8, never down by more than 10 %.
    static func roundFilters(_ filters: Int, width: Double) -> Int {
        let scaled = Double(filters) * width
        var rounded = max(8, Int(scaled + 4) / 8 * 8)
        if Double(rounded) < 0.9 * scaled { rounded += 8 }
        return rounded
    }

    /// The 1280-channel feature map.
    public func features(_ x: Tensor) throws -> Tensor {
        try lateFeatures(earlyFeatures(x, lateStage: 0), lateStage: 0)
    }

    /// The stem, then each block of the stages before `lateStage` (``Backbone/earlySteps(lateStage:)``).
    public func earlySteps(lateStage: Int) -> [(Tensor) throws -> Tensor] {
        let stemStep: (Tensor) throws -> Tensor = { [stem] x in
            try relu6(stem(tfSamePad(x, kernel: 3, stride: 2), padding: (0, 0)))
        }
        return [stemStep] + blocks[..<lateStart(lateStage)].map { block in { try block($0) } }
    }

    /// The stages from `lateStage` on and the 1×1 head convolution (``Backbone/lateFeatures(_:lateStage:)``).
    public func lateFeatures(_ y: Tensor, lateStage: Int) throws -> Tensor {
        var y = y
        for block in blocks[lateStart(lateStage)...] { y = try block(y) }
        return try relu6(head(y))
    }

    /// The index of the first block of stage `lateStage` (the last stage's when beyond).
    func lateStart(_ lateStage: Int) -> Int { stageStarts[min(lateStage, stageStarts.count - 1)] }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let f = try features(x)
        guard let classifier else { return f }
        let pooled = try Functional.adaptiveAvgPool2d(f, outputSize: (1, 1)).flattened(from: 1)
        return try classifier(Functional.dropout(pooled, p: dropout, training: isTraining))
    }

    /// ``features(_:)`` as graph nodes for a square input of `side` pixels (the SAME padding depends on it).
    public func exportFeatures(_ input: String, side: Int, into graph: inout InferenceGraph) throws -> String {
        let (before, after) = samePadding(side, kernel: 3, stride: 2)
        var y = try graph.clip(
            stem.export(input, into: &graph, pads: [before, before, after, after]), low: 0, high: 6)
        var side = (side + 1) / 2
        for block in blocks { (y, side) = try block.export(y, side: side, into: &graph) }
        return try graph.clip(head.export(y, into: &graph), low: 0, high: 6)
    }

    /// Folds every BatchNorm into its convolution (for an eval-only copy).
    public func foldBatchNorms(dtype: DType = .float32, format: MemoryFormat = .contiguous) throws {
        try stem.fold(dtype: dtype, format: format)
        try head.fold(dtype: dtype, format: format)
        for block in blocks { try block.foldBatchNorms(dtype: dtype, format: format) }
    }
}

/// Mobile inverted bottleneck: 1×1 expansion, depthwise k×k, 1×1 projection, residual when shapes allow.
public final class MBConvBlock: Module {
    let expand: ConvBatchNorm?
    let depthwise: ConvBatchNorm
    let project: ConvBatchNorm
    let kernel: Int, stride: Int
    let outputChannels: Int
    let hasResidual: Bool
    /// Probability of dropping the residual branch per sample in training (stochastic depth).
    var dropConnect = 0.0

    init(input: Int, output: Int, kernel: Int, stride: Int, expansion: Int) throws {
        let hidden = input * expansion
        self.kernel = kernel
        self.stride = stride
        outputChannels = output
        hasResidual = stride == 1 && input == output
        expand =
            expansion == 1
            ? nil
            : ConvBatchNorm(
                try Conv2d(input, hidden, kernel: 1, bias: false), try BatchNorm2d(hidden, eps: 1e-3, momentum: 0.01))
        depthwise = ConvBatchNorm(
            try Conv2d(hidden, hidden, kernel: kernel, stride: stride, groups: hidden, bias: false),
            try BatchNorm2d(hidden, eps: 1e-3, momentum: 0.01))
        project = ConvBatchNorm(
            try Conv2d(hidden, output, kernel: 1, bias: false), try BatchNorm2d(output, eps: 1e-3, momentum: 0.01))
        super.init()
        if let expand {
            registerModule("_expand_conv", expand.conv)
            registerModule("_bn0", expand.bn)
        }
        registerModule("_depthwise_conv", depthwise.conv)
        registerModule("_bn1", depthwise.bn)
        registerModule("_project_conv", project.conv)
        registerModule("_bn2", project.bn)
    }

    public override func forward(_ input: Tensor) throws -> Tensor {
        var x = input
        if let expand { x = try relu6(expand(x)) }
        if stride == 1 {
            x = try relu6(depthwise(x, padding: ((kernel - 1) / 2, (kernel - 1) / 2)))
        } else {
            x = try relu6(depthwise(tfSamePad(x, kernel: kernel, stride: stride), padding: (0, 0)))
        }
        x = try project(x)
        guard hasResidual else { return x }
        if isTraining, dropConnect > 0 { x = try dropPath(x, p: dropConnect) }
        return try adding(input, to: x)
    }

    /// ``forward(_:)`` in eval mode as graph nodes; returns the output and its side length.
    func export(_ input: String, side: Int, into graph: inout InferenceGraph) throws -> (String, Int) {
        var x = input
        if let expand { x = try graph.clip(expand.export(x, into: &graph), low: 0, high: 6) }
        let (before, after) =
            stride == 1 ? ((kernel - 1) / 2, (kernel - 1) / 2) : samePadding(side, kernel: kernel, stride: stride)
        x = try graph.clip(
            depthwise.export(x, into: &graph, pads: [before, before, after, after]), low: 0, high: 6)
        x = try project.export(x, into: &graph)
        let outSide = (side + stride - 1) / stride
        return (hasResidual ? graph.add("Add", [x, input]) : x, outSide)
    }

    func foldBatchNorms(dtype: DType, format: MemoryFormat) throws {
        try expand?.fold(dtype: dtype, format: format)
        try depthwise.fold(dtype: dtype, format: format)
        try project.fold(dtype: dtype, format: format)
    }
}

/// Zero-pads an NCHW tensor the way TensorFlow's "SAME" does for a strided convolution:
/// output size ⌈input / stride⌉, the odd pixel of padding on the bottom/right.
func tfSamePad(_ x: Tensor, kernel: Int, stride: Int) throws -> Tensor {
    let shape = x.shape
    let (top, bottom) = samePadding(shape[2], kernel: kernel, stride: stride)
    let (left, right) = samePadding(shape[3], kernel: kernel, stride: stride)
    if top == 0, bottom == 0, left == 0, right == 0 { return x }
    return try Functional.pad(x, [left, right, top, bottom])
}

/// TensorFlow "SAME" padding of one side of length `size`: (before, after), the odd pixel after.
func samePadding(_ size: Int, kernel: Int, stride: Int) -> (Int, Int) {
    let out = (size + stride - 1) / stride
    let total = max((out - 1) * stride + kernel - size, 0)
    return (total / 2, total - total / 2)
}

/// Drops whole samples of a residual branch with probability `p`, scaling the kept ones by 1 / (1 − p).
func dropPath(_ x: Tensor, p: Double) throws -> Tensor {
    let keep = 1 - p
    // Drawn in float32 whatever x's type: under bf16 autocast, a bf16 draw rounded `keep` (Lite0's second block:
    // 0.99375 to 0.9922, 0.8 % of samples dropped instead of 0.625 %) and took other numbers from the generator.
    let mask = try (Tensor.rand([x.shape[0], 1, 1, 1]) + keep).floor()
    return try x / keep * mask.to(x.dtype)
}
