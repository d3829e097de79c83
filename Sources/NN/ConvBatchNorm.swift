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
        let y = try Functional.conv2d(
            x, weight: conv.weight, bias: conv.bias, stride: conv.stride,
            padding: pad, dilation: conv.dilation, groups: conv.groups)
        return try bn(y)
    }

    /// Folds the BatchNorm's running statistics into the convolution (for an eval-only copy),
    /// computed in float32 and stored as `dtype` in `format`.
    public func fold(dtype: DType = .float32, format: MemoryFormat = .contiguous) throws {
        try Torch.withoutGrad {
            let scale = try bn.weight / (bn.runningVar + bn.eps).sqrt()
            var bias = try bn.bias - bn.runningMean * scale
            if let b = conv.bias { bias = try bias + b * scale }
            let weight = try (conv.weight * scale.reshaped([-1, 1, 1, 1])).contiguous(format)
            folded = (try weight.to(dtype), try bias.to(dtype))
        }
    }
}
