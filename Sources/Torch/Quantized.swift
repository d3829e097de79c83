import CTorch
import Foundation

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

/// A convolution with int8 weights (one scale per output channel, symmetric) and a float32 bias, prepacked once for
/// the quantized engine.
public final class QuantizedConv2d: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The weights' per-channel scales, as quantized.
    public let weightScales: [Float]

    /// Quantizes `weight` (out × in/groups × kh × kw, float32) per output channel with scale `max|w| / 127` (63 on a
    /// CPU without VNNI, ``weightLevels``), and
    /// prepacks it with `bias`. With `inputMeans` (the input's mean per channel over calibration photos), the bias
    /// takes away the mean error that the rounded weights make on such input (bias correction): rounding a kernel
    /// whose taps nearly cancel shifts every output by about the same amount, and the shift is what hurts.
    public init(
        weight: Tensor, bias: Tensor?, stride: (Int, Int), padding: (Int, Int), dilation: (Int, Int), groups: Int,
        inputMeans: Tensor? = nil
    ) throws {
        let quantized = try Self.quantize(weight: weight, bias: bias, groups: groups, inputMeans: inputMeans)
        weightScales = try quantized.scales.toArray(Float.self)
        let contiguous = try weight.contiguous()
        guard let q = qt_quantize_per_channel(contiguous.handle, quantized.scales.handle, 0) else {
            throw TorchError.last()
        }
        defer { qt_free(q) }
        handle = try withInt64s([stride.0, stride.1, padding.0, padding.1, dilation.0, dilation.1]) { v, _ in
            guard let h = qt_qconv_prepack(q, quantized.bias?.handle, v, v + 2, v + 4, Int64(groups)) else {
                throw TorchError.last()
            }
            return h
        }
    }

    /// The largest weight integer: 127 where the CPU multiplies uint8 by int8 with VNNI (32-bit sums), 63 where it
    /// has no VNNI. There oneDNN's int8 kernels add pairs of products in 16 bits (vpmaddubsw), which saturate when
    /// 255 · 127 · 2 exceeds 32,767; with 63 they cannot (the "reduced range" PyTorch uses on such CPUs).
    public static let weightLevels: Int = cpuHasVNNI ? 127 : 63

    /// Whether /proc/cpuinfo lists AVX512-VNNI or AVX-VNNI (false where there is no /proc: the safe answer).
    static let cpuHasVNNI: Bool = {
        // Not Linux, or no /proc: assume none, which only costs a bit of weight precision.
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
            let flags = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })
        else { return false }
        let set = Set(flags.split(separator: " ").map(String.init))
        return set.contains("avx512_vnni") || set.contains("avx_vnni")
    }()

    /// What the INT8 convolution holds, in float32: the weights' integers (−127…127) and per-channel scales, and
    /// the bias, corrected by `inputMeans` as ``init(weight:bias:stride:padding:dilation:groups:inputMeans:)``
    /// says (also what the ONNX export writes).
    public static func quantize(
        weight: Tensor, bias: Tensor?, groups: Int, inputMeans: Tensor?
    ) throws -> (integers: Tensor, scales: Tensor, bias: Tensor?) {
        let w = try weight.contiguous()
        let levels = Double(weightLevels)
        let scales = try (w.abs().flattened(from: 1).max([1]).clamp(1e-8, 1e30) / levels)
        let integers = try (w / scales.reshaped([-1, 1, 1, 1])).rounded().clamp(-levels, levels)
        guard let inputMeans else { return (integers, scales, bias) }
        let error = try integers * scales.reshaped([-1, 1, 1, 1]) - w  // out × in/groups × kh × kw
        let (out, perGroup) = (w.shape[0], w.shape[1])
        let shift = try error.sum([2, 3]).reshaped([groups, out / groups, perGroup])
            .matmul(inputMeans.reshaped([groups, perGroup, 1])).flattened()
        return (integers, scales, try (bias ?? Tensor.zeros([out])) - shift)
    }
    deinit { qt_qconv_free(handle) }

    /// The convolution of `x`, its output quantized to `scale` and `zeroPoint` (through a ReLU when `relu`, which
    /// needs zero point 0: a ReLU's output range starts at 0, and with another zero point libtorch 1.13's oneDNN path
    /// was measured to leave the negative outputs in place).
    public func callAsFunction(
        _ x: QuantizedTensor, scale: Double, zeroPoint: Int, relu: Bool = false
    ) throws -> QuantizedTensor {
        if relu, zeroPoint != 0 {
            throw TorchError("a quantized convolution with a ReLU takes zero point 0, not \(zeroPoint)")
        }
        let h = try unwrapped(qt_qconv_run(handle, x.handle, scale, Int64(zeroPoint), relu ? 1 : 0))
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
}

/// The handle, or the shim's error.
private func unwrapped(_ handle: OpaquePointer?) throws -> OpaquePointer {
    guard let handle else { throw TorchError.last() }
    return handle
}
