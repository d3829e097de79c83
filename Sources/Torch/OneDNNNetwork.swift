import CTorch

/// A feed-forward network of oneDNN convolutions and max pools, called directly rather than through ATen: weights
/// reordered once into the layout oneDNN's kernels pick, activations kept in that layout (and in bfloat16 or uint8
/// when asked) from the first layer to the last, each ReLU, ReLU6 and residual sum fused into its convolution.
///
/// An INT8 network (``init(int8InputScale:zeroPoint:)``) quantizes its float32 input, keeps every value as uint8
/// with a scale and zero point of its own (`x ≈ (q − zeroPoint) · scale`), and dequantizes what it returns. Its first
/// layers may compute in float32 instead, reading the input unquantized:
/// ``floatConvolution(_:weight:bias:stride:padBefore:padAfter:groups:activation:quantizedTo:)``.
///
/// Layers make numbered values; value 0 is the input. Build it layer by layer, then run it on float32 batches: the
/// primitives for each input shape are made on the first batch of that shape and kept. Available where the shim was
/// built with Debian's libdnnl-dev (``isAvailable``).
public final class OneDNNNetwork: @unchecked Sendable {
    /// What follows a convolution inside it.
    public enum Activation: Int32, Sendable {
        case none = 0
        case relu = 1
        case relu6 = 2
    }

    private let handle: OpaquePointer
    /// Whether it computes in bfloat16 (else float32, or INT8 with ``isInt8``).
    public let bfloat16: Bool
    /// Whether it computes in INT8.
    public let isInt8: Bool
    /// The values made so far, the input included.
    public private(set) var valueCount = 1

    /// True when this build can make one.
    public static var isAvailable: Bool { qt_dnnl_available() != 0 }

    /// True when this build can make an INT8 one on this CPU (oneDNN has INT8 kernels of its own for it).
    public static let hasInt8Kernels: Bool = {
        // The answer is the question: whether the network can be made.
        isAvailable && (try? OneDNNNetwork(int8InputScale: 1, zeroPoint: 0)) != nil
    }()

    /// True when this build can make a bfloat16 one on this CPU (oneDNN 2.6 has bfloat16 kernels with AVX-512 only).
    public static let hasBFloat16Kernels: Bool = {
        // The answer is the question: whether the network can be made.
        isAvailable && (try? OneDNNNetwork(bfloat16: true)) != nil
    }()

    /// An empty network computing in bfloat16 or float32; throws where this build has no oneDNN or oneDNN has no
    /// kernels for that type on this CPU (bfloat16 needs AVX-512 in oneDNN 2.6).
    public init(bfloat16: Bool) throws {
        guard let h = qt_dnnl_new(bfloat16 ? 1 : 0) else { throw TorchError.last() }
        (handle, self.bfloat16, isInt8) = (h, bfloat16, false)
    }

    /// An empty INT8 network whose float32 input is quantized as `q = clamp(round(x / scale) + zeroPoint, 0, 255)`, or
    /// kept float32 for float32 layers to read when `scale` is 0; throws where this build has no oneDNN or oneDNN has
    /// no INT8 kernels of its own on this CPU.
    public init(int8InputScale scale: Double, zeroPoint: Int) throws {
        guard let h = qt_dnnl_new_int8(scale, Int64(zeroPoint)) else { throw TorchError.last() }
        (handle, bfloat16, isInt8) = (h, false, true)
    }
    deinit { qt_dnnl_free(handle) }

    /// Adds a convolution of value `input` with `weight` (out × in/groups × kh × kw) and `bias`, then `residual` added
    /// and `activation`; returns its value. The residual's buffer takes the sum, so nothing may read it afterwards.
    /// Paddings are (top, left) before and (bottom, right) after: TensorFlow's uneven SAME padding fits.
    public func convolution(
        _ input: Int, weight: Tensor, bias: Tensor?, stride: (Int, Int), padBefore: (Int, Int),
        padAfter: (Int, Int), groups: Int, residual: Int? = nil, activation: Activation = .none
    ) throws -> Int {
        let pairs = [stride.0, stride.1, padBefore.0, padBefore.1, padAfter.0, padAfter.1]
        let value = withInt64s(pairs) { v, _ in
            qt_dnnl_conv(
                handle, Int32(input), weight.handle, bias?.handle, v, v + 2, v + 4, Int64(groups),
                Int32(residual ?? -1), activation.rawValue)
        }
        return try added(value)
    }

    /// Adds a convolution to an INT8 network: weights `integers` (whole numbers in −127…127, out × in/groups × kh × kw)
    /// times `weightScales` (one per output channel), `bias` added in float, then `residual` and `activation` as
    /// ``convolution(_:weight:bias:stride:padBefore:padAfter:groups:residual:activation:)`` says; the result is
    /// quantized once, to `scale` and `zeroPoint`. Returns its value.
    public func convolution(
        _ input: Int, integers: Tensor, weightScales: Tensor, bias: Tensor?, stride: (Int, Int),
        padBefore: (Int, Int), padAfter: (Int, Int), groups: Int, residual: Int? = nil, activation: Activation = .none,
        scale: Double, zeroPoint: Int
    ) throws -> Int {
        let pairs = [stride.0, stride.1, padBefore.0, padBefore.1, padAfter.0, padAfter.1]
        let value = withInt64s(pairs) { v, _ in
            qt_dnnl_conv_int8(
                handle, Int32(input), integers.handle, weightScales.handle, bias?.handle, v, v + 2, v + 4,
                Int64(groups), Int32(residual ?? -1), activation.rawValue, scale, Int64(zeroPoint))
        }
        return try added(value)
    }

    /// Adds a float32 convolution to an INT8 network, as
    /// ``convolution(_:weight:bias:stride:padBefore:padAfter:groups:residual:activation:)`` without a residual: it
    /// reads a float32 value (the input kept float32, or another float32 layer's output), and its output is quantized
    /// to `quantizedTo` or, when that is nil, stays float32. Returns its value.
    public func floatConvolution(
        _ input: Int, weight: Tensor, bias: Tensor?, stride: (Int, Int), padBefore: (Int, Int),
        padAfter: (Int, Int), groups: Int, activation: Activation = .none,
        quantizedTo output: (scale: Double, zeroPoint: Int)?
    ) throws -> Int {
        let pairs = [stride.0, stride.1, padBefore.0, padBefore.1, padAfter.0, padAfter.1]
        let value = withInt64s(pairs) { v, _ in
            qt_dnnl_conv_float_int8(
                handle, Int32(input), weight.handle, bias?.handle, v, v + 2, v + 4, Int64(groups), activation.rawValue,
                output?.scale ?? 0, Int64(output?.zeroPoint ?? 0))
        }
        return try added(value)
    }

    /// Adds a max pool of value `input`; returns its value.
    public func maxPool(
        _ input: Int, kernel: (Int, Int), stride: (Int, Int), padBefore: (Int, Int), padAfter: (Int, Int)
    ) throws -> Int {
        let pairs = [kernel.0, kernel.1, stride.0, stride.1, padBefore.0, padBefore.1, padAfter.0, padAfter.1]
        let value = withInt64s(pairs) { v, _ in qt_dnnl_max_pool(handle, Int32(input), v, v + 2, v + 4, v + 6) }
        return try added(value)
    }

    private func added(_ value: Int32) throws -> Int {
        guard value >= 0 else { throw TorchError.last() }
        valueCount += 1
        return Int(value)
    }

    /// Value `output` (by default the last made) for a float32 N×C×H×W batch on the CPU, as float32 NCHW.
    public func callAsFunction(_ x: Tensor, output: Int? = nil) throws -> Tensor {
        try wrap(qt_dnnl_run(handle, x.handle, Int32(output ?? valueCount - 1)))
    }
}
