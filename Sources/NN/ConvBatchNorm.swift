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

    /// Convolution (with the layer's own padding) then BatchNorm, or one convolution with the BatchNorm folded in:
    /// the stored folded weights of an eval-only copy, or, whenever the BatchNorm uses its running statistics (eval
    /// mode, or statistics fixed while fine-tuning), weights folded for this call, differentiably in w, γ and β.
    /// Exact up to rounding, and it spares a pass over the feature map forward and backward (Lite0 at 256 px on a
    /// 2-core Zen 3: an unfrozen ELPV epoch 120 s → 92 s, see docs/measurements.md).
    public func callAsFunction(_ x: Tensor, padding: (Int, Int)? = nil) throws -> Tensor {
        let pad = padding ?? conv.padding
        func convolve(_ weight: Tensor, _ bias: Tensor?) throws -> Tensor {
            try Functional.conv2d(
                x, weight: weight, bias: bias, stride: conv.stride, padding: pad, dilation: conv.dilation,
                groups: conv.groups)
        }
        if let folded { return try convolve(folded.weight, folded.bias) }
        if bn.normalisesWithBatch { return try bn(convolve(conv.weight, conv.bias)) }
        let (weight, bias) = try foldedWeightAndBias()
        return try convolve(weight.contiguous(.channelsLast), bias)
    }

    /// w·γ/√(σ²+ε) and the bias, in the parameters' dtype, carrying gradients to w, b, γ and β.
    private func foldedWeightAndBias() throws -> (weight: Tensor, bias: Tensor) {
        let (scale, shift) = try bn.affine()
        let bias = try conv.bias.map { try shift + $0 * scale } ?? shift
        return (try conv.weight * scale.reshaped([-1, 1, 1, 1]), bias)
    }

    /// The folded weight and bias in float32 (contiguous), computed from the current BatchNorm statistics.
    public func foldedFloat32() throws -> (weight: Tensor, bias: Tensor) {
        try Torch.withoutGrad {
            let (weight, bias) = try foldedWeightAndBias()
            return (try weight.to(.float32).contiguous(), try bias.to(.float32))
        }
    }

    /// Folds the BatchNorm's running statistics into the convolution (for an eval-only copy), as
    /// ``foldedFloat32()`` gives them, stored as `dtype` in `format`.
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
