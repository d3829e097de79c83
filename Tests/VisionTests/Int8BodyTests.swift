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
    /// ReLU6 ranges) and ResNet-18 (residual adds with a fused ReLU, max pooling).
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func int8StaysCloseToFloat() throws {
        let lite = try EfficientNetLite(.lite0, classes: nil)
        var state = try Checkpoint.load(
            Fixtures.cacheHome.appendingPathComponent("weights/efficientnet-lite0-57934424.pth"))
        state = state.filter { !$0.key.hasPrefix("_fc.") }  // the body only
        try lite.load(state)
        for (body, floor) in [(lite as Backbone, 12.0), (try Self.resnet18(), 22.0)] {
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
            #expect(qdq.nodes.contains { $0.op == "QuantizeLinear" } && !qdq.int8Constants.isEmpty)
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
