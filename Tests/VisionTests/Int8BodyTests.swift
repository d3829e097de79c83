import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

/// A body's exported graph, run in float (``GraphRunner``) and in INT8 (``QuantizedNetwork``), against the body's
/// own forward pass.
@Suite("INT8 bodies", .serialized)
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
