import CTorch

/// A uint8 tensor with one scale and zero point (`x ≈ (q − zeroPoint) · scale`): an activation of an INT8 network.
///
/// Kept apart from ``Tensor`` because its element type is none of ``DType``'s: only the quantized operators below
/// take it, and ``dequantized()`` leaves it.
public final class QuantizedTensor: @unchecked Sendable {
    let handle: OpaquePointer
    public let scale: Double
    public let zeroPoint: Int

    init(handle: OpaquePointer, scale: Double, zeroPoint: Int) {
        (self.handle, self.scale, self.zeroPoint) = (handle, scale, zeroPoint)
    }
    deinit { qt_free(handle) }

    /// Quantizes a float tensor: `q = clamp(round(x / scale) + zeroPoint, 0, 255)`.
    public convenience init(_ x: Tensor, scale: Double, zeroPoint: Int) throws {
        guard let h = qt_quantize_per_tensor(x.handle, scale, Int64(zeroPoint)) else { throw TorchError.last() }
        self.init(handle: h, scale: scale, zeroPoint: zeroPoint)
    }

    /// The dimensions, as a float tensor's.
    public var shape: [Int] {
        var out = [Int64](repeating: 0, count: Int(qt_dim(handle)))
        qt_sizes(handle, &out)
        return out.map(Int.init)
    }

    /// Back to float32.
    public func dequantized() throws -> Tensor { try wrap(qt_dequantize(handle)) }

    /// The stored integers, 0–255.
    public func integers() throws -> Tensor { try wrap(qt_int_repr(handle)) }

    /// Zero-padded (`pads` as ``Functional/pad(_:_:value:)`` takes them for 4-d input: left, right, top, bottom):
    /// the padding holds the zero point.
    public func padded(_ pads: [Int]) throws -> QuantizedTensor {
        guard pads.count == 4 else { throw TorchError("quantized padding takes 4 sides, got \(pads)") }
        let h = try unwrapped(qt_qpad(handle, Int64(pads[0]), Int64(pads[1]), Int64(pads[2]), Int64(pads[3])))
        return QuantizedTensor(handle: h, scale: scale, zeroPoint: zeroPoint)
    }

    /// Max pooling in the quantized domain (same scale and zero point).
    public func maxPooled(kernel: (Int, Int), stride: (Int, Int), padding: (Int, Int)) throws -> QuantizedTensor {
        let h = try withInt64s([kernel.0, kernel.1, stride.0, stride.1, padding.0, padding.1]) { v, _ in
            try unwrapped(qt_max_pool2d(handle, v, v + 2, v + 4, 0))
        }
        return QuantizedTensor(handle: h, scale: scale, zeroPoint: zeroPoint)
    }

    /// `self + other`, requantized to `scale` and `zeroPoint`, through a ReLU when `relu`.
    public func adding(
        _ other: QuantizedTensor, scale: Double, zeroPoint: Int, relu: Bool = false
    ) throws -> QuantizedTensor {
        let h = try unwrapped(qt_qadd(handle, other.handle, scale, Int64(zeroPoint), relu ? 1 : 0))
        return QuantizedTensor(handle: h, scale: scale, zeroPoint: zeroPoint)
    }
}

/// A convolution with int8 weights (one scale per output channel, symmetric) and a float32 bias, prepacked for the
/// quantized engine once per input shape.
///
/// One pack per shape because libtorch 1.13's oneDNN convolution reorders its packed weights, in place, into the
/// layout the first input's shape wants, and for another batch size it may want another blocked layout that oneDNN
/// cannot reorder into from the first on some CPUs ("could not create a primitive descriptor for a reorder
/// primitive" on a Zen 4 after a batch of 8 then one of 1; PyTorch fixed it after 1.13, in PR 86876). A server's
/// batches take any size up to its largest, so each size gets weights packed for it alone.
public final class QuantizedConv2d: @unchecked Sendable {
    /// The per-channel int8 weights every pack is made from.
    private let weights: OpaquePointer
    private let bias: Tensor?
    private let pairs: [Int], groups: Int
    /// The packs made so far, by input shape. `@unchecked Sendable`: `packs` is read and written under its lock; a
    /// pack's first run initialises it under libtorch's own once-flag.
    private let packs = Locked<[[Int]: OpaquePointer]>([:])
    /// The weights' per-channel scales, as quantized.
    public let weightScales: [Float]

    /// Quantizes `weight` (out × in/groups × kh × kw, float32) per output channel with scale `max|w| / levels`
    /// (``weightLevels`` by default), to be prepacked with `bias`. With `inputMeans` (the input's mean per channel
    /// over calibration photos), the bias takes away the mean error that the rounded weights make on such input
    /// (bias correction): rounding a kernel whose taps nearly cancel shifts every output by about the same amount,
    /// and the shift is what hurts.
    public init(
        weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int,
        inputMeans: Tensor? = nil, levels: Int = weightLevels
    ) throws {
        let quantized = try Self.quantize(
            weight: weight, bias: bias, groups: groups, inputMeans: inputMeans, levels: levels)
        weightScales = try quantized.scales.toArray(Float.self)
        weights = try Self.perChannel(integers: quantized.integers, scales: quantized.scales)
        self.bias = quantized.bias
        pairs = [stride.0, stride.1, padding.0, padding.1, dilation.0, dilation.1]
        self.groups = groups
    }

    /// The per-channel int8 tensor of `integers` · `scales` (exactly those integers).
    private static func perChannel(integers: Tensor, scales: Tensor) throws -> OpaquePointer {
        QuantizedEngine.preferOneDNN()
        let exact = try (integers * scales.reshaped([-1, 1, 1, 1])).contiguous()
        guard let q = qt_quantize_per_channel(exact.handle, scales.handle, 0) else { throw TorchError.last() }
        return q
    }

    /// The per-channel weights `q` prepacked with `bias`.
    private static func prepack(_ q: OpaquePointer, bias: Tensor?, pairs: [Int], groups: Int) throws -> OpaquePointer {
        try withInt64s(pairs) { v, _ in
            guard let h = qt_qconv_prepack(q, bias?.handle, v, v + 2, v + 4, Int64(groups)) else {
                throw TorchError.last()
            }
            return h
        }
    }

    /// The pack for inputs of `shape`, made the first time it is asked for.
    private func pack(for shape: [Int]) throws -> OpaquePointer {
        try packs.withLock { packs in
            if let pack = packs[shape] { return pack }
            let pack = try Self.prepack(weights, bias: bias, pairs: pairs, groups: groups)
            packs[shape] = pack
            return pack
        }
    }

    /// The largest weight integer: 127 where the engine sums uint8 × int8 products in 32 bits (VNNI), 63 where it
    /// adds pairs of them in 16 bits first (oneDNN's kernels for CPUs without VNNI, or when its ISA is capped), which
    /// saturate when 255 · 127 · 2 exceeds 32,767. Decided by running one convolution that would saturate, so it
    /// follows what the engine does, not what the CPU lists.
    public static let weightLevels: Int = {
        // A failing probe leaves the safe answer, which only costs a bit of weight precision.
        (try? addsPairsWithoutSaturating()) == true ? 127 : 63
    }()

    /// A 1×1 convolution of four channels of 255 with weights of 127: 4 · 255 · 127 = 129,540 in exact sums, at most
    /// 2 · 32,767 where pairs saturate in 16 bits.
    static func addsPairsWithoutSaturating() throws -> Bool {
        let input = try QuantizedTensor(
            Tensor.full([1, 4, 1, 1], 255).contiguous(.channelsLast), scale: 1, zeroPoint: 0)
        let weights = try perChannel(integers: Tensor.full([1, 4, 1, 1], 127), scales: Tensor.full([1], 1))
        defer { qt_free(weights) }
        let conv = try prepack(weights, bias: nil, pairs: [1, 1, 0, 0, 1, 1], groups: 1)
        defer { qt_qconv_free(conv) }
        guard let h = qt_qconv_run(conv, input.handle, 1024, 0, 0) else { throw TorchError.last() }
        let out = QuantizedTensor(handle: h, scale: 1024, zeroPoint: 0)
        return abs(try out.dequantized().item() - 129_540) < 1024
    }

    /// What the INT8 convolution holds, in float32: the weights' integers (−levels…levels) and per-channel scales,
    /// and the bias, corrected by `inputMeans` as
    /// ``init(weight:bias:stride:padding:dilation:groups:inputMeans:levels:)`` says (also what the ONNX export writes). A channel whose weights are all zero gets scale 1 (any would do), so
    /// that its bias stays representable at input scale × weight scale.
    public static func quantize(
        weight: Tensor, bias: Tensor?, groups: Int, inputMeans: Tensor?, levels: Int = weightLevels
    ) throws -> (integers: Tensor, scales: Tensor, bias: Tensor?) {
        let w = try weight.contiguous()
        let largest = try w.abs().flattened(from: 1).max([1])
        let scales = try (largest + largest.eq(0).to(.float32)) / Double(levels)
        let integers = try (w / scales.reshaped([-1, 1, 1, 1])).rounded().clamp(-Double(levels), Double(levels))
        guard let inputMeans else { return (integers, scales, bias) }
        let error = try integers * scales.reshaped([-1, 1, 1, 1]) - w  // out × in/groups × kh × kw
        let (out, perGroup) = (w.shape[0], w.shape[1])
        let shift = try error.sum([2, 3]).reshaped([groups, out / groups, perGroup])
            .matmul(inputMeans.reshaped([groups, perGroup, 1])).flattened()
        return (integers, scales, try (bias ?? Tensor.zeros([out])) - shift)
    }

    deinit {
        packs.withLock { packs in packs.values.forEach(qt_qconv_free) }
        qt_free(weights)
    }

    /// The convolution of `x`, its output quantized to `scale` and `zeroPoint` (through a ReLU when `relu`, which
    /// needs zero point 0: a ReLU's output range starts at 0, and with another zero point libtorch 1.13's oneDNN path
    /// was measured to leave the negative outputs in place).
    public func callAsFunction(
        _ x: QuantizedTensor, scale: Double, zeroPoint: Int, relu: Bool = false
    ) throws -> QuantizedTensor {
        if relu, zeroPoint != 0 {
            throw TorchError("a quantized convolution with a ReLU takes zero point 0, not \(zeroPoint)")
        }
        let conv = try pack(for: x.shape)
        let h = try unwrapped(qt_qconv_run(conv, x.handle, scale, Int64(zeroPoint), relu ? 1 : 0))
        return QuantizedTensor(handle: h, scale: scale, zeroPoint: zeroPoint)
    }
}

/// The quantized engine libtorch runs these operators on.
public enum QuantizedEngine {
    /// The engine in use ("ONEDNN", "FBGEMM", "QNNPACK").
    public static var current: String { String(cString: qt_quantized_engine()) }

    /// Selects an engine by libtorch's name for it (`onednn`, `fbgemm`, `qnnpack`); throws when this libtorch lacks
    /// it.
    public static func select(_ name: String) throws { try check(qt_set_quantized_engine(name)) }

    /// Selects oneDNN, once, where this libtorch has it, so that every libtorch runs the kernels the INT8 figures
    /// were measured with: Debian's 1.13 defaults to it, PyPI's 2.15 to its "x86" engine, whose kernels gave
    /// ImageNet Lite0 9.2 dB against 15.5 on the same calibration (AMD EPYC family 26 model 2).
    public static func preferOneDNN() { _ = oneDNNSelected }

    private static let oneDNNSelected: Bool = {
        do {
            try select("onednn")
            return true
        } catch {
            qt_clear_error()  // a libtorch without oneDNN keeps its own default engine
            return false
        }
    }()
}

/// The handle, or the shim's error.
private func unwrapped(_ handle: OpaquePointer?) throws -> OpaquePointer {
    guard let handle else { throw TorchError.last() }
    return handle
}
