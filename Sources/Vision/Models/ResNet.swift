import Foundation
import NN
import Torch

/// ResNet-18/34/50 (He et al., 2016) as torchvision defines them (v1.5: stride on the 3×3
/// convolution of a bottleneck), with torchvision's parameter names, so torchvision
/// checkpoints load one to one.
public final class ResNet: Module {
    /// The depths torchvision defines.
    public enum Depth: Int, CaseIterable, Sendable {
        case resnet18 = 18
        case resnet34 = 34
        case resnet50 = 50

        var blocks: [Int] {
            switch self {
            case .resnet18: [2, 2, 2, 2]
            case .resnet34, .resnet50: [3, 4, 6, 3]
            }
        }

        var bottleneck: Bool { self == .resnet50 }
    }

    public let depth: Depth
    let stem: ConvBatchNorm
    public let layers: [Sequential]
    public let classifier: Linear?
    /// Channels of the last feature map (512, or 2048 for ResNet-50).
    public let featureWidth: Int

    /// - Parameter classes: size of `fc`; nil builds the body only (output: the last feature map).
    public init(_ depth: Depth, classes: Int? = 1000) throws {
        self.depth = depth
        stem = ConvBatchNorm(try Conv2d(3, 64, kernel: 7, stride: 2, padding: 3, bias: false), try BatchNorm2d(64))
        let expansion = depth.bottleneck ? 4 : 1
        var inPlanes = 64
        var layers: [Sequential] = []
        for (i, (planes, count)) in zip([64, 128, 256, 512], depth.blocks).enumerated() {
            var blocks: [Module] = []
            for b in 0..<count {
                let stride = b == 0 && i > 0 ? 2 : 1
                let block: Module =
                    depth.bottleneck
                    ? try Bottleneck(inPlanes, planes, stride: stride)
                    : try BasicBlock(inPlanes, planes, stride: stride)
                blocks.append(block)
                inPlanes = planes * expansion
            }
            layers.append(Sequential(blocks))
        }
        self.layers = layers
        featureWidth = 512 * expansion
        classifier = try classes.map { try Linear(512 * expansion, $0) }
        super.init()
        registerModule("conv1", stem.conv)
        registerModule("bn1", stem.bn)
        for (i, layer) in layers.enumerated() { registerModule("layer\(i + 1)", layer) }
        if let classifier { registerModule("fc", classifier) }
        try kaimingInitialisation()
    }

    /// torchvision's initialisation: Kaiming-normal (fan-out, ReLU) convolutions, BatchNorm γ = 1, β = 0.
    func kaimingInitialisation() throws {
        try Torch.withoutGrad {
            for (_, module) in namedModules() {
                guard let conv = module as? Conv2d else { continue }
                let s = conv.weight.shape
                let std = (2.0 / Double(s[0] * s[2] * s[3])).squareRoot()
                try conv.weight.copyInPlace(from: Tensor.randn(s) * std)
            }
        }
    }

    public func features(_ x: Tensor) throws -> Tensor {
        try lateFeatures(earlyFeatures(x, lateStage: 0), lateStage: 0)
    }

    /// The stem with its pooling, then `layer1…layer<lateStage>` (``Backbone/earlySteps(lateStage:)``).
    public func earlySteps(lateStage: Int) -> [(Tensor) throws -> Tensor] {
        let stemStep: (Tensor) throws -> Tensor = { [stem] x in
            try Functional.maxPool2d(relu(stem(x)), kernel: (3, 3), stride: (2, 2), padding: (1, 1))
        }
        return [stemStep] + layers[..<lateStart(lateStage)].map { layer in { try layer($0) } }
    }

    /// The remaining layers (``Backbone/lateFeatures(_:lateStage:)``).
    public func lateFeatures(_ y: Tensor, lateStage: Int) throws -> Tensor {
        try layers[lateStart(lateStage)...].reduce(y) { try $1($0) }
    }

    /// The index of the first layer of the late group (never past the last layer).
    func lateStart(_ lateStage: Int) -> Int { min(lateStage, layers.count - 1) }

    public override func forward(_ x: Tensor) throws -> Tensor {
        let f = try features(x)
        guard let classifier else { return f }
        return try classifier(Functional.adaptiveAvgPool2d(f, outputSize: (1, 1)).flattened(from: 1))
    }

    /// ``features(_:)`` as graph nodes (any input size: ResNet's padding does not depend on it).
    public func exportFeatures(_ input: String, side: Int, into graph: inout InferenceGraph) throws -> String {
        var y = graph.add("Relu", [try stem.export(input, into: &graph)])
        y = graph.add(
            "MaxPool", [y],
            [("kernel_shape", .ints([3, 3])), ("strides", .ints([2, 2])), ("pads", .ints([1, 1, 1, 1]))])
        for layer in layers { y = try layer.export(y, into: &graph) }
        return y
    }

    /// Folds every BatchNorm into its convolution (for an eval-only copy).
    public func foldBatchNorms(dtype: DType = .float32, format: MemoryFormat = .contiguous) throws {
        try stem.fold(dtype: dtype, format: format)
        for (_, module) in namedModules() {
            try (module as? BasicBlock)?.foldBatchNorms(dtype: dtype, format: format)
            try (module as? Bottleneck)?.foldBatchNorms(dtype: dtype, format: format)
        }
    }
}

/// The 1×1 convolution + BatchNorm that matches a residual's shape (`downsample.0`, `downsample.1`).
func downsample(_ inPlanes: Int, _ outPlanes: Int, stride: Int) throws -> (Sequential, ConvBatchNorm)? {
    guard stride != 1 || inPlanes != outPlanes else { return nil }
    let conv = try Conv2d(inPlanes, outPlanes, kernel: 1, stride: stride, bias: false)
    let bn = try BatchNorm2d(outPlanes)
    return (Sequential([conv, bn]), ConvBatchNorm(conv, bn))
}

/// Two 3×3 convolutions with a residual (ResNet-18/34).
final class BasicBlock: Module {
    let first: ConvBatchNorm, second: ConvBatchNorm
    let shortcut: ConvBatchNorm?

    init(_ inPlanes: Int, _ planes: Int, stride: Int) throws {
        first = ConvBatchNorm(
            try Conv2d(inPlanes, planes, kernel: 3, stride: stride, padding: 1, bias: false), try BatchNorm2d(planes))
        second = ConvBatchNorm(try Conv2d(planes, planes, kernel: 3, padding: 1, bias: false), try BatchNorm2d(planes))
        let down = try downsample(inPlanes, planes, stride: stride)
        shortcut = down?.1
        super.init()
        registerModule("conv1", first.conv)
        registerModule("bn1", first.bn)
        registerModule("conv2", second.conv)
        registerModule("bn2", second.bn)
        if let down { registerModule("downsample", down.0) }
    }

    override func forward(_ x: Tensor) throws -> Tensor {
        let y = try second(relu(first(x)))
        return try relu(adding(shortcut?(x) ?? x, to: y))
    }

    override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        let y = try second.export(graph.add("Relu", [first.export(input, into: &graph)]), into: &graph)
        return graph.add("Relu", [graph.add("Add", [y, try shortcut?.export(input, into: &graph) ?? input])])
    }

    func foldBatchNorms(dtype: DType, format: MemoryFormat) throws {
        try first.fold(dtype: dtype, format: format)
        try second.fold(dtype: dtype, format: format)
        try shortcut?.fold(dtype: dtype, format: format)
    }
}

/// 1×1 reduce, 3×3 (strided), 1×1 expand ×4, with a residual (ResNet-50).
final class Bottleneck: Module {
    let reduce: ConvBatchNorm, spatial: ConvBatchNorm, expand: ConvBatchNorm
    let shortcut: ConvBatchNorm?

    init(_ inPlanes: Int, _ planes: Int, stride: Int) throws {
        reduce = ConvBatchNorm(try Conv2d(inPlanes, planes, kernel: 1, bias: false), try BatchNorm2d(planes))
        spatial = ConvBatchNorm(
            try Conv2d(planes, planes, kernel: 3, stride: stride, padding: 1, bias: false), try BatchNorm2d(planes))
        expand = ConvBatchNorm(try Conv2d(planes, planes * 4, kernel: 1, bias: false), try BatchNorm2d(planes * 4))
        let down = try downsample(inPlanes, planes * 4, stride: stride)
        shortcut = down?.1
        super.init()
        registerModule("conv1", reduce.conv)
        registerModule("bn1", reduce.bn)
        registerModule("conv2", spatial.conv)
        registerModule("bn2", spatial.bn)
        registerModule("conv3", expand.conv)
        registerModule("bn3", expand.bn)
        if let down { registerModule("downsample", down.0) }
    }

    override func forward(_ x: Tensor) throws -> Tensor {
        let y = try expand(relu(spatial(relu(reduce(x)))))
        return try relu(adding(shortcut?(x) ?? x, to: y))
    }

    override func export(_ input: String, into graph: inout InferenceGraph) throws -> String {
        var y = graph.add("Relu", [try reduce.export(input, into: &graph)])
        y = try expand.export(graph.add("Relu", [spatial.export(y, into: &graph)]), into: &graph)
        return graph.add("Relu", [graph.add("Add", [y, try shortcut?.export(input, into: &graph) ?? input])])
    }

    func foldBatchNorms(dtype: DType, format: MemoryFormat) throws {
        try reduce.fold(dtype: dtype, format: format)
        try spatial.fold(dtype: dtype, format: format)
        try expand.fold(dtype: dtype, format: format)
        try shortcut?.fold(dtype: dtype, format: format)
    }
}
