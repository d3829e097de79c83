import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

/// A body's exported graph run through oneDNN directly (``OneDNNNetwork``) against the body's own forward pass, and
/// the classifier's bfloat16 evaluation through it.
@Suite(
    "oneDNN bodies", .serialized,
    .enabled(if: Torch.defaultDevice == .cpu && OneDNNNetwork.isAvailable, "oneDNN runs on the CPU, where built"))
struct OneDNNBodyTests {
    /// In float32 the network computes what the body computes, to rounding: Lite0 (ReLU6 and residual sums fused,
    /// TensorFlow's uneven padding) and ResNet-18 (ReLU after the residual sum, max pooling), NCHW and channels-last
    /// input, two batch sizes (a plan each). In bfloat16 it stays within bfloat16's rounding of it.
    @Test func theNetworkComputesWhatTheBodyComputes() throws {
        Torch.manualSeed(1)
        for body in [try EfficientNetLite(.lite0, classes: nil) as Backbone, try Int8BodyTests.resnet18()] {
            body.eval()
            var graph = InferenceGraph()
            let output = try body.exportFeatures("image", side: 96, into: &graph)
            let float = try OneDNNNetwork(graph, input: "image", output: output, bfloat16: false)
            let bf16 = try OneDNNNetwork(graph, input: "image", output: output, bfloat16: true)
            for batch in [3, 1] {
                let x = try patternInput(batch: batch, size: 96)
                let want = try Torch.withoutGrad { try body.features(x) }
                let scale = try want.abs().max().item()
                for input in [x, try x.contiguous(.channelsLast)] {
                    let got = try float(input)
                    #expect(got.shape == want.shape)
                    let difference = try maxAbsDifference(got, want)
                    #expect(scale > 0 && difference <= 1e-4 * scale, "\(type(of: body)): \(difference) of \(scale)")
                }
                let rounded = try bf16(x)
                let error = try (rounded - want).pow(2).mean().item() / want.pow(2).mean().item()
                #expect(error > 0 && error < 1e-3, "\(type(of: body)) in bf16: relative squared error \(error)")
            }
        }
    }

    /// More input shapes than it keeps plans for (8): the oldest is dropped and made again when it comes back, and
    /// every answer stays right (the buffers of a plan are reused as values die).
    @Test func manyShapesKeepTheirAnswers() throws {
        Torch.manualSeed(3)
        let body = try EfficientNetLite(.lite0, classes: nil)
        body.eval()
        var graph = InferenceGraph()
        let output = try body.exportFeatures("image", side: 32, into: &graph)
        let network = try OneDNNNetwork(graph, input: "image", output: output, bfloat16: false)
        for batch in Array(1...10) + [1, 2] {
            let x = try patternInput(batch: batch, size: 32)
            let want = try Torch.withoutGrad { try body.features(x) }
            let (difference, scale) = (try maxAbsDifference(network(x), want), try want.abs().max().item())
            #expect(difference <= 1e-4 * scale, "batch \(batch): \(difference)")
        }
    }

    /// An operator it does not run is refused by name, so the caller keeps ATen's path.
    @Test func anUnknownOperatorIsRefusedByName() throws {
        var graph = InferenceGraph()
        let conv = try graph.conv(
            "image", weight: Tensor.randn([4, 3, 3, 3]), bias: nil, stride: (1, 1), pads: [1, 1, 1, 1],
            dilation: (1, 1), groups: 1)
        let out = graph.add("Sigmoid", [conv])
        #expect(throws: TorchError.self) {
            try OneDNNNetwork(graph, input: "image", output: out, bfloat16: true)
        }
        do {
            _ = try OneDNNNetwork(graph, input: "image", output: out, bfloat16: true)
        } catch {
            #expect("\(error)".contains("Sigmoid"))
        }
    }

    /// With ``Classifier/evaluatesBF16ThroughOneDNN``, a classifier's evaluation under autocast runs through the
    /// network (what it gives, to the bit), one per size in pixels; without autocast or in training mode it does not,
    /// and without the flag autocast's own path serves again.
    @Test func aClassifierUsesItForBF16EvaluationOnly() throws {
        Torch.manualSeed(2)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"], pretrained: false)
        classifier.eval()
        let x = try patternInput(batch: 2, size: 64)
        func bf16(_ x: Tensor) throws -> Tensor {
            try Torch.withoutGrad { try Torch.withAutocast { try classifier.features(x) } }
        }
        let float = try Torch.withoutGrad { try classifier.features(x) }
        let autocast = try bf16(x)
        classifier.evaluatesBF16ThroughOneDNN = true
        let direct = try bf16(x)
        let network = try #require(classifier.oneDNNBody(side: 64))
        #expect(try maxAbsDifference(direct, network(x)) == 0)
        #expect(try maxAbsDifference(direct, autocast) > 0)
        #expect(try maxAbsDifference(Torch.withoutGrad { try classifier.features(x) }, float) == 0)
        #expect(classifier.oneDNNBody(side: 64) === network)
        let other = try patternInput(batch: 2, size: 96)
        #expect(try bf16(other).shape[2] == 3)
        #expect(classifier.oneDNNBody(side: 96) !== network)
        classifier.evaluatesBF16ThroughOneDNN = false
        #expect(try maxAbsDifference(bf16(x), autocast) == 0)
        // In training mode (last: it moves the BatchNorm statistics) the flag is not looked at.
        classifier.evaluatesBF16ThroughOneDNN = true
        classifier.train()
        let training = try Torch.withoutGrad { try Torch.withAutocast { try classifier.features(x) } }
        #expect(try maxAbsDifference(training, direct) > 0)
    }
}
