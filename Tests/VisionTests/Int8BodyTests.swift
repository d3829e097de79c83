import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

/// A body's exported graph, run in float (``GraphRunner``) and in INT8 (``QuantizedNetwork``), against the body's
/// own forward pass.
@Suite("INT8 bodies", .serialized, .enabled(if: Torch.defaultDevice == .cpu, "INT8 runs on the CPU"))
struct Int8BodyTests {
    static func resnet18() throws -> ResNet {
        let model = try ResNet(.resnet18)
        try model.load(Checkpoint.load(Fixtures.url("resnet18_random.pth")))
        return model
    }

    /// Signal-to-quantization-noise ratio of `got` against `want`, in dB.
    static func sqnr(_ got: Tensor, _ want: Tensor) throws -> Double {
        let noise = try (got - want).pow(2).mean().item()
        return 10 * log10(try want.pow(2).mean().item() / max(noise, 1e-30))
    }

    @Test func theGraphComputesWhatTheBodyComputes() throws {
        Torch.manualSeed(1)
        for body in [try EfficientNetLite(.lite0, classes: nil) as Backbone, try Self.resnet18()] {
            body.eval()
            let x = try patternInput(batch: 2, size: 96)
            let want = try Torch.withoutGrad { try body.features(x) }
            var graph = InferenceGraph()
            let output = try body.exportFeatures("image", side: 96, into: &graph)
            let got = try Torch.withoutGrad { try GraphRunner(graph).run(["image": x], output: output) }
            #expect(try maxAbsDifference(got, want) / want.abs().max().item() <= 1e-4, "\(type(of: body))")
        }
    }

    /// Calibrated on some inputs, the INT8 body stays close to float on others: ImageNet-trained Lite0 (its real
    /// ReLU6 ranges) and ResNet-18 (residual adds with a fused ReLU, max pooling). Lite0 measured 21.4 dB with its stem
    /// and first depthwise convolution in float32, 14.0 dB with the image and the stem's output rounded to 8 bits.
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func int8StaysCloseToFloat() throws {
        let lite = try EfficientNetLite(.lite0, classes: nil)
        var state = try Checkpoint.load(
            Fixtures.cacheHome.appendingPathComponent("weights/efficientnet-lite0-57934424.pth"))
        state = state.filter { !$0.key.hasPrefix("_fc.") }  // the body only
        try lite.load(state)
        for (body, floor) in [(lite as Backbone, 18.0), (try Self.resnet18(), 22.0)] {
            body.eval()
            var graph = InferenceGraph()
            let output = try body.exportFeatures("image", side: 64, into: &graph)
            let pattern = try patternInput(batch: 6, size: 64)
            let calibration = [try pattern.narrowed(dim: 0, 0..<4)], held = try pattern.narrowed(dim: 0, 4..<6)
            let ranges = try ActivationRanges.observe(graph, input: "image", output: output, batches: calibration)
            #expect(ranges.photos == 4)
            let int8 = try QuantizedNetwork(graph, input: "image", output: output, ranges: ranges)
            let want = try Torch.withoutGrad { try body.features(held) }
            let got = try Torch.inferenceMode { try int8(held.contiguous(.channelsLast)) }
            let ratio = try Self.sqnr(got, want)
            print("\(type(of: body)): INT8 SQNR \(ratio) dB")
            #expect(ratio >= floor, "\(type(of: body)): \(ratio) dB")
        }
    }

    /// The ONNX export's QDQ form, run in float by the graph runner, computes what the INT8 network computes in
    /// integers: Lite0 (SAME padding, ReLU6 fused, residual adds) and ResNet-18 (ReLU fused into adds, max pooling).
    /// Where the integer accumulation and the float one round to neighbouring steps they differ by one step; deep
    /// in a random network such differences compound, so the first block is held to one step and the whole body to
    /// 20 dB.
    @Test func theQDQExportComputesWhatINT8Runs() throws {
        try Self.expectCloseToINT8 { graph, ranges, x, out in
            let int8 = try QuantizedNetwork(graph, input: "image", output: out, ranges: ranges)
            var qdq = InferenceGraph()
            let qdqOutput = try QuantizedNetwork.exportQDQ(
                graph, input: "image", output: out, ranges: ranges, image: "photo", into: &qdq)
            #expect(qdq.nodes.contains { $0.op == "QuantizeLinear" })
            let want = try Torch.inferenceMode { try int8(x.contiguous(.channelsLast)) }
            return (try Torch.withoutGrad { try GraphRunner(qdq).run(["photo": x], output: qdqOutput) }, want)
        }
    }

    /// Random Lite0 and ResNet-18 bodies at 64 px, calibrated on a pattern batch of 3: `compare(graph, ranges, x,
    /// output)` computes a value two ways, and the first block's (Lite0's `Conv_2`, ResNet's `MaxPool`) must agree to
    /// one uint8 step in nearly every element, the whole body's to 20 dB.
    static func expectCloseToINT8(
        _ compare: (InferenceGraph, ActivationRanges, Tensor, String) throws -> (got: Tensor, want: Tensor)
    ) throws {
        Torch.manualSeed(2)
        let lite = try EfficientNetLite(.lite0, classes: nil)
        for (body, firstBlock) in [(lite as Backbone, "Conv_2"), (try Self.resnet18(), "MaxPool")] {
            body.eval()
            var graph = InferenceGraph()
            let output = try body.exportFeatures("image", side: 64, into: &graph)
            let x = try patternInput(batch: 3, size: 64)
            let ranges = try ActivationRanges.observe(graph, input: "image", output: output, batches: [x])
            let (got, want) = try compare(graph, ranges, x, firstBlock)
            #expect(got.shape == want.shape)
            let range = try #require(ranges.ranges[firstBlock])
            let steps = try ((got - want).abs() / (Double(max(range[1], 0) - min(range[0], 0)) / 255)).rounded()
            #expect(try steps.max().item() <= 1, "\(type(of: body))")
            #expect(try steps.gt(0.5).to(DType.float32).mean().item() <= 0.03, "\(type(of: body))")
            let whole = try compare(graph, ranges, x, output)
            let ratio = try Self.sqnr(whole.got, whole.want)
            #expect(ratio >= 20, "\(type(of: body)): \(ratio) dB")
        }
    }

    /// The first convolution reads the image unquantized and computes in float32, and so does a depthwise one
    /// that alone reads its output (Lite0's first block), whose output is then quantized; ResNet's stem output
    /// goes to a max pool and is quantized. The QDQ export says so: no QuantizeLinear on the image, float weights in
    /// those convolutions, a DequantizeLinear before every later one.
    @Test func theStemAndTheFirstDepthwiseConvolutionComputeInFloat() throws {
        Torch.manualSeed(3)
        let bodies = [(try EfficientNetLite(.lite0, classes: nil) as Backbone, 2), (try Self.resnet18(), 1)]
        for (body, floatConvolutions) in bodies {
            body.eval()
            var graph = InferenceGraph()
            let output = try body.exportFeatures("image", side: 32, into: &graph)
            let ranges = try ActivationRanges.observe(
                graph, input: "image", output: output, batches: [try patternInput(batch: 1, size: 32)])
            var qdq = InferenceGraph()
            _ = try QuantizedNetwork.exportQDQ(
                graph, input: "image", output: output, ranges: ranges, image: "photo", into: &qdq)
            let makers = Dictionary(qdq.nodes.map { ($0.output, $0.op) }, uniquingKeysWith: { a, _ in a })
            let weights = qdq.nodes.filter { $0.op == "Conv" }.map { makers[$0.inputs[1]] ?? "constant" }
            #expect(!qdq.nodes.contains { $0.op == "QuantizeLinear" && $0.inputs[0] == "photo" }, "\(type(of: body))")
            #expect(weights.prefix { $0 == "constant" }.count == floatConvolutions, "\(type(of: body))")
            #expect(weights.dropFirst(floatConvolutions).allSatisfy { $0 == "DequantizeLinear" }, "\(type(of: body))")
            // Nothing is quantized before the last float32 convolution (Lite0's stem output goes on in float32).
            let convolutions = qdq.nodes.indices.filter { qdq.nodes[$0].op == "Conv" }
            let firstQuantize = try #require(qdq.nodes.firstIndex { $0.op == "QuantizeLinear" })
            #expect(firstQuantize > convolutions[floatConvolutions - 1], "\(type(of: body))")
        }
    }

    @Test func aGraphWithAnOperatorINT8CannotRunIsRefusedByName() throws {
        var graph = InferenceGraph()
        let y = graph.add("Sigmoid", ["image"])
        let ranges = ActivationRanges(ranges: ["image": [0, 1], y: [0, 1]], photos: 1)
        #expect(throws: TorchError.self) { try QuantizedNetwork(graph, input: "image", output: y, ranges: ranges) }
        do {
            _ = try QuantizedNetwork(graph, input: "image", output: y, ranges: ranges)
        } catch {
            #expect("\(error)".contains("Sigmoid"))
        }
    }
}
