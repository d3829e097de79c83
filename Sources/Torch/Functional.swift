import CTorch

/// How a loss combines per-sample values.
public enum Reduction: Sendable {
    case none, mean, sum
    var code: Int32 {
        switch self {
        case .none: Int32(QT_REDUCTION_NONE)
        case .mean: Int32(QT_REDUCTION_MEAN)
        case .sum: Int32(QT_REDUCTION_SUM)
        }
    }
}

/// Sampling of ``Functional/gridSample(_:grid:mode:padding:alignCorners:)``.
public enum GridSampleMode: Sendable {
    case bilinear, nearest
    var code: Int32 { self == .bilinear ? Int32(QT_GRID_BILINEAR) : Int32(QT_GRID_NEAREST) }
}
/// What ``Functional/gridSample(_:grid:mode:padding:alignCorners:)`` reads outside the image.
public enum GridPadding: Sendable {
    case zeros, border, reflection
    var code: Int32 {
        switch self {
        case .zeros: Int32(QT_GRID_ZEROS)
        case .border: Int32(QT_GRID_BORDER)
        case .reflection: Int32(QT_GRID_REFLECTION)
        }
    }
}

/// Stateless neural-network operations (`torch.nn.functional`).
public enum Functional {
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        try wrap(qt_linear(x.handle, weight.handle, bias?.handle))
    }

    /// 2-D convolution of an NCHW tensor; `weight` is (out, in / groups, kh, kw).
    public static func conv2d(
        _ x: Tensor, weight: Tensor, bias: Tensor? = nil,
        stride: (Int, Int) = (1, 1), padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1
    ) throws -> Tensor {
        try withPairs(stride, padding, dilation) { s, p, d in
            try wrap(qt_conv2d(x.handle, weight.handle, bias?.handle, s, p, d, Int64(groups)))
        }
    }

    /// Batch normalisation over the channel dimension. In training it normalises with the batch
    /// statistics and updates `runningMean`/`runningVar` in place with `momentum`.
    public static func batchNorm(
        _ x: Tensor, weight: Tensor?, bias: Tensor?, runningMean: Tensor?, runningVar: Tensor?,
        training: Bool, momentum: Double = 0.1, eps: Double = 1e-5
    ) throws -> Tensor {
        try wrap(
            qt_batch_norm(
                x.handle, weight?.handle, bias?.handle, runningMean?.handle, runningVar?.handle,
                training ? 1 : 0, momentum, eps))
    }

    public static func maxPool2d(
        _ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0), ceilMode: Bool = false
    ) throws -> Tensor {
        try withPairs(kernel, stride ?? kernel, padding) { k, s, p in
            try wrap(qt_max_pool2d(x.handle, k, s, p, ceilMode ? 1 : 0))
        }
    }

    public static func avgPool2d(
        _ x: Tensor, kernel: (Int, Int), stride: (Int, Int)? = nil, padding: (Int, Int) = (0, 0),
        ceilMode: Bool = false, countIncludePad: Bool = true
    ) throws -> Tensor {
        try withPairs(kernel, stride ?? kernel, padding) { k, s, p in
            try wrap(qt_avg_pool2d(x.handle, k, s, p, ceilMode ? 1 : 0, countIncludePad ? 1 : 0))
        }
    }

    public static func adaptiveAvgPool2d(_ x: Tensor, outputSize: (Int, Int)) throws -> Tensor {
        try withPairs(outputSize, outputSize, outputSize) { o, _, _ in try wrap(qt_adaptive_avg_pool2d(x.handle, o)) }
    }

    public static func adaptiveMaxPool2d(_ x: Tensor, outputSize: (Int, Int)) throws -> Tensor {
        try withPairs(outputSize, outputSize, outputSize) { o, _, _ in try wrap(qt_adaptive_max_pool2d(x.handle, o)) }
    }

    /// Zeroes elements with probability `p` in training and scales the rest by 1 / (1 − p).
    public static func dropout(_ x: Tensor, p: Double, training: Bool) throws -> Tensor {
        try wrap(qt_dropout(x.handle, p, training ? 1 : 0))
    }

    public static func softmax(_ x: Tensor, dim: Int) throws -> Tensor { try wrap(qt_softmax(x.handle, Int64(dim))) }
    public static func logSoftmax(_ x: Tensor, dim: Int) throws -> Tensor {
        try wrap(qt_log_softmax(x.handle, Int64(dim)))
    }

    /// Cross-entropy of logits (N×C) against int64 class indices (N), optionally class-weighted.
    public static func crossEntropy(
        _ logits: Tensor, target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean,
        labelSmoothing: Double = 0
    ) throws -> Tensor {
        try wrap(qt_cross_entropy(logits.handle, target.handle, weight?.handle, reduction.code, labelSmoothing))
    }

    /// Negative log-likelihood of log-probabilities (N×C) against class indices (N).
    public static func nllLoss(
        _ logProbabilities: Tensor, target: Tensor, weight: Tensor? = nil, reduction: Reduction = .mean
    ) throws -> Tensor {
        try wrap(qt_nll_loss(logProbabilities.handle, target.handle, weight?.handle, reduction.code))
    }

    /// Binary cross-entropy of logits against float targets of the same shape (0 or 1 per label), computed stably
    /// from the logits; `positiveWeight` (one per column) multiplies the positive term, as PyTorch's `pos_weight`.
    public static func binaryCrossEntropyWithLogits(
        _ logits: Tensor, target: Tensor, positiveWeight: Tensor? = nil, reduction: Reduction = .mean
    ) throws -> Tensor {
        try wrap(qt_bce_with_logits(logits.handle, target.handle, positiveWeight?.handle, reduction.code))
    }

    /// Constant padding; `pads` holds (before, after) pairs starting from the last dimension.
    public static func pad(_ x: Tensor, _ pads: [Int], value: Double = 0) throws -> Tensor {
        try withInt64s(pads) { p, n in try wrap(qt_pad(x.handle, p, n, value)) }
    }

    /// Bilinear resize of an NCHW float tensor to (height, width); `antialias` low-pass filters when shrinking
    /// (matches `F.interpolate(..., mode="bilinear", antialias=True)`).
    public static func interpolateBilinear(
        _ x: Tensor, size: (Int, Int), alignCorners: Bool = false, antialias: Bool = false
    ) throws -> Tensor {
        try withPairs(size, size, size) { o, _, _ in
            try wrap(qt_interpolate_bilinear(x.handle, o, alignCorners ? 1 : 0, antialias ? 1 : 0))
        }
    }

    /// Sampling grid (N×H×W×2) for the affine matrices `theta` (N×2×3) and output size (N, C, H, W).
    public static func affineGrid(_ theta: Tensor, size: [Int], alignCorners: Bool = false) throws -> Tensor {
        guard size.count == 4 else { throw TorchError("affineGrid needs a 4-D size (N, C, H, W), got \(size)") }
        return try withInt64s(size) { s, _ in try wrap(qt_affine_grid(theta.handle, s, alignCorners ? 1 : 0)) }
    }

    /// Samples `x` (NCHW) at the normalised positions of `grid` (N×H×W×2, x then y in [-1, 1]).
    public static func gridSample(
        _ x: Tensor, grid: Tensor, mode: GridSampleMode = .bilinear, padding: GridPadding = .zeros,
        alignCorners: Bool = false
    ) throws -> Tensor {
        try wrap(qt_grid_sample(x.handle, grid.handle, mode.code, padding.code, alignCorners ? 1 : 0))
    }

    private static func withPairs<R>(
        _ a: (Int, Int), _ b: (Int, Int), _ c: (Int, Int),
        _ body: (UnsafePointer<Int64>, UnsafePointer<Int64>, UnsafePointer<Int64>) throws -> R
    ) rethrows -> R {
        let pa = [Int64(a.0), Int64(a.1)], pb = [Int64(b.0), Int64(b.1)], pc = [Int64(c.0), Int64(c.1)]
        return try pa.withUnsafeBufferPointer { x in
            try pb.withUnsafeBufferPointer { y in
                try pc.withUnsafeBufferPointer { z in try body(x.baseAddress!, y.baseAddress!, z.baseAddress!) }
            }
        }
    }
}
