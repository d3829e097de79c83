import TestSupport
import Testing
import Torch

@testable import NN

/// The INT8 building blocks against float arithmetic on the same rounded numbers: the quantized convolution (oneDNN
/// through libtorch) must compute what float does on its dequantized input and weights, up to the output's rounding.
@Suite("INT8 convolution", .serialized, .enabled(if: Torch.defaultDevice == .cpu, "INT8 runs on the CPU"))
struct QuantizedConvTests {
    /// The weights as the INT8 convolution holds them: rounded per output channel to `scales`.
    static func rounded(_ weight: Tensor, scales: [Float]) throws -> Tensor {
        let s = try Tensor(scales, shape: [scales.count, 1, 1, 1])
        return try (weight / s).rounded() * s
    }

    /// Each kernel shape at 63 weight levels (CPUs whose engine adds pairs of products in 16 bits) and at the levels
    /// this machine's engine takes.
    static let cases = [(1, 1, 0), (3, 8, 1), (5, 8, 2)].flatMap { kernel, groups, padding in
        Set([63, QuantizedConv2d.weightLevels]).sorted().map { (kernel, groups, padding, $0) }
    }

    @Test(arguments: cases)
    func convolutionMatchesFloatOnTheRoundedNumbers(kernel: Int, groups: Int, padding: Int, levels: Int) throws {
        Torch.manualSeed(3)
        let (cin, cout) = (8, 8)
        let x = try (Tensor.rand([2, cin, 12, 12]) * 6).contiguous(.channelsLast)
        let weight = try Tensor.randn([cout, cin / groups, kernel, kernel]) * 0.3
        let bias = try Tensor.randn([cout])
        let qx = try QuantizedTensor(x, scale: 6.0 / 255, zeroPoint: 0)
        let conv = try QuantizedConv2d(
            weight: weight, bias: bias, stride: (1, 1), padding: (padding, padding), dilation: (1, 1), groups: groups,
            levels: levels)
        let want = try Functional.conv2d(
            qx.dequantized(), weight: Self.rounded(weight, scales: conv.weightScales), bias: bias,
            padding: (padding, padding), groups: groups)
        let (low, high) = (try want.min().item(), try want.max().item())
        let q = QuantizationParameters(low: Float(low), high: Float(high))
        // Rounding the output costs at most half a step, and the engine's int32 bias (at input scale × weight scale)
        // half of its own step.
        let slack = 0.5 * qx.scale * Double(conv.weightScales.max() ?? 0) + 1e-5
        let got = try conv(qx, scale: q.scale, zeroPoint: q.zeroPoint).dequantized()
        #expect(try maxAbsDifference(got, want) <= q.scale * 0.5 + slack)
        // A ReLU's output range starts at 0, so its zero point is 0 (another is refused: see QuantizedConv2d).
        let r = QuantizationParameters(low: 0, high: Float(high))
        let relu = try conv(qx, scale: r.scale, zeroPoint: r.zeroPoint, relu: true).dequantized()
        #expect(try maxAbsDifference(relu, want.relu()) <= r.scale * 0.5 + slack)
        #expect(throws: TorchError.self) { try conv(qx, scale: q.scale, zeroPoint: q.zeroPoint, relu: true) }
    }

    /// A server's batches come in every size up to its largest, in any order. libtorch 1.13's oneDNN convolution
    /// reorders its packed weights for the first batch it runs and, on a Zen 4 with two threads, could not reorder
    /// Lite0's last 1×1 convolutions (672 → 192 and 1152 → 192 at 8 × 8) for a batch of 1 after one of 8: every
    /// served request failed until the server restarted. Each size must give what float gives on the same rounded
    /// numbers, whatever ran before it.
    @Test(arguments: [(672, 192, 1, 1, 8), (1152, 192, 1, 1, 8), (32, 32, 3, 32, 32), (24, 40, 5, 1, 16)])
    func batchesOfEverySizeInAnyOrder(cin: Int, cout: Int, kernel: Int, groups: Int, side: Int) throws {
        let threads = Torch.threads
        Torch.threads = 2  // the layouts oneDNN picks depend on the threads; the failure needed two
        defer { Torch.threads = threads }
        Torch.manualSeed(6)
        let weight = try Tensor.randn([cout, cin / groups, kernel, kernel]) * 0.2
        let bias = try Tensor.randn([cout])
        let conv = try QuantizedConv2d(
            weight: weight, bias: bias, stride: (1, 1), padding: (kernel / 2, kernel / 2), dilation: (1, 1),
            groups: groups)
        let rounded = try Self.rounded(weight, scales: conv.weightScales)
        for n in [8, 1, 5, 8, 2, 1] {
            let x = try (Tensor.rand([n, cin, side, side]) * 6).contiguous(.channelsLast)
            let qx = try QuantizedTensor(x, scale: 6.0 / 255, zeroPoint: 0)
            let want = try Functional.conv2d(
                qx.dequantized(), weight: rounded, bias: bias, padding: (kernel / 2, kernel / 2), groups: groups)
            let q = QuantizationParameters(low: Float(try want.min().item()), high: Float(try want.max().item()))
            let slack = 0.5 * qx.scale * Double(conv.weightScales.max() ?? 0) + 1e-5
            let got = try conv(qx, scale: q.scale, zeroPoint: q.zeroPoint).dequantized()
            #expect(try maxAbsDifference(got, want) <= q.scale * 0.5 + slack, "batch of \(n)")
        }
    }

    /// The weights' integers stay within the levels, and a channel of zeros keeps a usable scale (its bias must
    /// stay representable at input scale × weight scale in the ONNX export).
    @Test func weightsStayWithinTheirLevels() throws {
        var weight = try Tensor.randn([3, 2, 3, 3])
        weight = try Tensor.cat([weight.narrowed(dim: 0, 0..<2), Tensor.zeros([1, 2, 3, 3])])
        for levels in [63, 127] {
            let q = try QuantizedConv2d.quantize(
                weight: weight, bias: Tensor.ones([3]), groups: 1, inputMeans: nil, levels: levels)
            #expect(try q.integers.abs().max().item() == Double(levels))
            #expect(try q.scales.toArray(Float.self)[2] == 1 / Float(levels))
        }
    }

    /// TensorFlow's SAME padding of a stride-2 convolution pads one more row and column after than before: the
    /// quantized pad holds the zero point, so the padded convolution equals float's on zero-padded input.
    @Test func asymmetricPaddingIsZero() throws {
        Torch.manualSeed(4)
        let x = try (Tensor.randn([1, 4, 9, 9]) * 2).contiguous(.channelsLast)
        let qx = try QuantizedTensor(x, scale: 0.05, zeroPoint: 120)
        let padded = try qx.padded([0, 1, 0, 1])
        #expect(padded.shape == [1, 4, 10, 10])
        #expect(try maxAbsDifference(padded.dequantized(), Functional.pad(qx.dequantized(), [0, 1, 0, 1])) == 0)
    }

    /// A kernel whose taps nearly cancel, on input with a large mean (a ReLU6 output): rounding the weights shifts
    /// every output by about the same amount. Bias correction takes the shift away.
    @Test func biasCorrectionRemovesTheMeanShift() throws {
        Torch.manualSeed(5)
        let (cin, cout) = (32, 8)
        let weight = try Tensor.randn([cout, cin, 1, 1])
        let x = try (Tensor.rand([4, cin, 16, 16]) * 0.5 + 3).contiguous(.channelsLast)
        let qx = try QuantizedTensor(x, scale: 6.0 / 255, zeroPoint: 0)
        let exact = try Functional.conv2d(qx.dequantized(), weight: weight, bias: nil)
        let q = QuantizationParameters(low: Float(try exact.min().item()), high: Float(try exact.max().item()))
        func meanShift(_ means: Tensor?) throws -> Double {
            let conv = try QuantizedConv2d(
                weight: weight, bias: nil, stride: (1, 1), padding: (0, 0), dilation: (1, 1), groups: 1,
                inputMeans: means)
            let got = try conv(qx, scale: q.scale, zeroPoint: q.zeroPoint).dequantized()
            return try (got - exact).mean([0, 2, 3]).abs().mean().item()
        }
        let plain = try meanShift(nil), corrected = try meanShift(qx.dequantized().mean([0, 2, 3]))
        #expect(corrected < plain / 3, "mean shift \(corrected) corrected, \(plain) not")
    }

    @Test func parametersCoverTheRangeAndZero() {
        let positive = QuantizationParameters(low: 0, high: 6)
        #expect(positive.zeroPoint == 0 && abs(positive.scale - 6.0 / 255) < 1e-12)
        let signed = QuantizationParameters(low: -2, high: 6)
        #expect(abs(Double(-signed.zeroPoint) * signed.scale + 2) <= signed.scale / 2)
        let above = QuantizationParameters(low: 1, high: 3)  // widened to hold 0: padding must be exact
        #expect(above.zeroPoint == 0)
    }

    /// Quantizing is PyTorch's arithmetic (`quantize_val`: zero point + nearbyint(x · (1 / float(scale))), clamped),
    /// halves rounded to even and values beyond the range clamped, and keeps a channels-last layout; dequantizing
    /// is `dequantize_val`'s ((q − zero point) · scale, in double).
    @Test func quantizingRoundsAsPyTorchDoes() throws {
        let scale = 0.05, zeroPoint = 10
        let inverse = 1 / Float(scale)
        // Halves at several levels (0.025 is 0.5 of a step), the clamps at both ends, and ordinary values.
        var values: [Float] = [0.025, 0.075, -0.025, 0.125, -0.475, -0.525, -1, 20, 12.725, 3.14159, 0, -0.5]
        values += (0..<36).map { Float($0) * 0.137 - 1.3 }
        let x = try Tensor(values, shape: [1, 3, 4, 4]).contiguous(.channelsLast)
        let q = try QuantizedTensor(x, scale: scale, zeroPoint: zeroPoint)
        let expected = try x.toArray(Float.self).map { v -> Int64 in
            min(255, max(0, Int64(zeroPoint) + Int64((v * inverse).rounded(.toNearestOrEven))))
        }
        let integers = try q.integers()
        #expect(try integers.to(.int64).toArray(Int64.self) == expected)
        #expect(integers.isContiguous(.channelsLast))
        let back = try q.dequantized().toArray(Float.self)
        #expect(back == expected.map { Float(Double($0 - Int64(zeroPoint)) * scale) })
    }
}
