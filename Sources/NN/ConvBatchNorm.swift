import Torch

/// A convolution followed by BatchNorm, which can be folded into one convolution with a bias
/// for inference: w' = w·γ/√(σ²+ε), b' = β − μ·γ/√(σ²+ε) (+ b·γ/√(σ²+ε)).
///
/// It is not a ``Module``: the two layers stay registered where the architecture puts them,
/// so state-dict names keep matching PyTorch's (`_expand_conv`, `_bn0`, …).
public final class ConvBatchNorm {
    public let conv: Conv2d
    public let bn: BatchNorm
    /// The folded weight and bias, once ``fold()`` has run.
    public private(set) var folded: (weight: Tensor, bias: Tensor)?

    public init(_ conv: Conv2d, _ bn: BatchNorm) {
        self.conv = conv
        self.bn = bn
    }

    /// Convolution (with the layer's own padding) then BatchNorm, or the folded convolution.
    public func callAsFunction(_ x: Tensor, padding: (Int, Int)? = nil) throws -> Tensor {
        let pad = padding ?? conv.padding
        if let folded {
            return try Functional.conv2d(
                x, weight: folded.weight, bias: folded.bias, stride: conv.stride,
                padding: pad, dilation: conv.dilation, groups: conv.groups)
        }
        if !bn.normalisesWithBatch {
            // The BatchNorm uses its running statistics (eval mode, or statistics fixed while fine-tuning): fold
            // it into this call's convolution, differentiably in w, γ and β. Exact up to rounding, and it spares a
            // pass over the feature map forward and backward (Lite0 at 256 px on a 2-core Zen 3: see the README).
            let scale = try bn.weight / (bn.runningVar + bn.eps).sqrt()
            var bias = try bn.bias - bn.runningMean * scale
            if let b = conv.bias { bias = try bias + b * scale }
            return try Functional.conv2d(
                x, weight: (conv.weight * scale.reshaped([-1, 1, 1, 1])).contiguous(.channelsLast), bias: bias,
                stride: conv.stride,
                padding: pad, dilation: conv.dilation, groups: conv.groups)
        }
        let y = try Functional.conv2d(
            x, weight: conv.weight, bias: conv.bias, stride: conv.stride,
            padding: pad, dilation: conv.dilation, groups: conv.groups)
        return try bn(y)
    }

    /// The folded weight and bias in float32 (contiguous), computed from the current BatchNorm statistics.
    public func foldedFloat32() throws -> (weight: Tensor, bias: Tensor) {
        try Torch.withoutGrad {
            let (scale, shift) = try bn.scaleAndShift()
            var bias = shift
            if let b = conv.bias { bias = try bias + b.to(.float32) * scale }
            return (try (conv.weight.to(.float32) * scale.reshaped([-1, 1, 1, 1])).contiguous(), bias)
        }
    }

    /// Folds the BatchNorm's running statistics into the convolution (for an eval-only copy),
    /// computed in float32 and stored as `dtype` in `format`.
    public func fold(dtype: DType = .float32, format: MemoryFormat = .contiguous) throws {
        let (weight, bias) = try foldedFloat32()
        folded = (try weight.contiguous(format).to(dtype), try bias.to(dtype))
    }

    /// One `Conv` with the folded weights. `pads` (top, left, bottom, right) defaults to the convolution's own.
    public func export(_ input: String, into graph: inout InferenceGraph, pads: [Int]? = nil) throws -> String {
        let (weight, bias) = try foldedFloat32()
        let p = conv.padding
        return try graph.conv(
            input, weight: weight, bias: bias, stride: conv.stride, pads: pads ?? [p.0, p.1, p.0, p.1],
            dilation: conv.dilation, groups: conv.groups)
    }
}
