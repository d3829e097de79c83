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
            // Without AVX-512 (an AMD Zen 3, say) oneDNN 2.6 has no bfloat16 kernels: float32 alone is checked there.
            let bf16 =
                OneDNNNetwork.hasBFloat16Kernels
                ? try OneDNNNetwork(graph, input: "image", output: output, bfloat16: true) : nil
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
                guard let bf16 else { continue }
                let rounded = try bf16(x)
                let error = try (rounded - want).pow(2).mean().item() / want.pow(2).mean().item()
                #expect(error > 0 && error < 1e-3, "\(type(of: body)) in bf16: relative squared error \(error)")
            }
        }
    }

    /// A random eval-mode Lite0 body and its float32 oneDNN network for `side`-pixel input.
    static func lite0(side: Int) throws -> (EfficientNetLite, OneDNNNetwork) {
        let body = try EfficientNetLite(.lite0, classes: nil)
        body.eval()
        var graph = InferenceGraph()
        let output = try body.exportFeatures("image", side: side, into: &graph)
        return (body, try OneDNNNetwork(graph, input: "image", output: output, bfloat16: false))
    }

    /// More input shapes than it keeps plans for (8): the oldest is dropped and made again when it comes back, and
    /// every answer stays right (the buffers of a plan are reused as values die).
    @Test func manyShapesKeepTheirAnswers() throws {
        Torch.manualSeed(3)
        let (body, network) = try Self.lite0(side: 32)
        for batch in Array(1...10) + [1, 2] {
            let x = try patternInput(batch: batch, size: 32)
            let want = try Torch.withoutGrad { try body.features(x) }
            let (difference, scale) = (try maxAbsDifference(network(x), want), try want.abs().max().item())
            #expect(scale > 0 && difference <= 1e-4 * scale, "batch \(batch): \(difference)")
        }
    }

    /// Runs on several threads at once (serve's workers share one model) each get buffers of their own.
    @Test func concurrentRunsKeepTheirAnswers() throws {
        Torch.manualSeed(4)
        let (body, network) = try Self.lite0(side: 32)
        let inputs = try (0..<4).map { try patternInput(batch: 2, size: 32) * Double($0 + 1) }
        let wants = try inputs.map { x in try Torch.withoutGrad { try body.features(x) } }
        let differences = Locked([Double](repeating: .infinity, count: 4))
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            // Each worker runs every input a few times, taking plans others have given back. A failure leaves the
            // infinity in place, which the expectation below reports.
            var worst = 0.0
            for round in 0..<12 {
                let k = (worker + round) % 4
                guard let got = try? network(inputs[k]), let d = try? maxAbsDifference(got, wants[k]),
                    let scale = try? wants[k].abs().max().item()
                else { return }
                worst = max(worst, d / scale)
            }
            differences.withLock { $0[worker] = worst }
        }
        let worst = differences.withLock { $0.max() ?? .infinity }
        #expect(worst <= 1e-4, "largest relative difference \(worst)")
    }

    /// A residual Add is fused into the Conv before it only when its buffer may take the sum: not when the other
    /// input is the Conv's own input (`x + conv(x)`) or the graph's input (the caller's tensor), where the Add is left
    /// unfused and so refused; a Clip that is not ReLU6 is not fused either.
    @Test func sumsAndClipsFuseOnlyWhereSafe() throws {
        enum Residual { case earlier, convInput, graphInput }
        func graph(_ residual: Residual, clipTop: Float = 6) throws -> (InferenceGraph, String) {
            var graph = InferenceGraph()
            func conv(_ x: String, _ k: Int) throws -> String {
                try graph.conv(
                    x, weight: Tensor.randn([3, 3, k, k]), bias: nil, stride: (1, 1),
                    pads: [k / 2, k / 2, k / 2, k / 2],
                    dilation: (1, 1), groups: 1)
            }
            let stem = try conv("image", 1)
            let last = try conv(residual == .convInput ? stem : conv(stem, 3), 3)
            let sum = graph.add("Add", [residual == .graphInput ? "image" : stem, last])
            let output = try graph.clip(sum, low: 0, high: clipTop)
            return (graph, output)
        }
        Torch.manualSeed(5)
        let x = try patternInput(batch: 2, size: 8)
        let (fine, out) = try graph(.earlier)
        let want = try GraphRunner(fine).run(["image": x], output: out)
        let got = try OneDNNNetwork(fine, input: "image", output: out, bfloat16: false)(x)
        #expect(try maxAbsDifference(got, want) <= 1e-4 * want.abs().max().item())
        for (refused, output) in [try graph(.convInput), try graph(.graphInput), try graph(.earlier, clipTop: 4)] {
            #expect(throws: TorchError.self) {
                try OneDNNNetwork(refused, input: "image", output: output, bfloat16: false)
            }
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
            try OneDNNNetwork(graph, input: "image", output: out, bfloat16: false)
        }
        do {
            _ = try OneDNNNetwork(graph, input: "image", output: out, bfloat16: false)
        } catch {
            #expect("\(error)".contains("Sigmoid"))
        }
    }

    /// With ``Classifier/evaluatesThroughOneDNN``, a classifier's evaluation runs through the networks (what they
    /// give, to the bit): bfloat16 under autocast, float32 otherwise, one per size in pixels and precision; in training
    /// mode it does not, and without the flag ATen's own path serves again. Where oneDNN has no bfloat16 kernels, autocast
    /// keeps ATen's path.
    @Test func aClassifierUsesItForEvaluationOnly() throws {
        Torch.manualSeed(2)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"], pretrained: false)
        classifier.eval()
        let x = try patternInput(batch: 2, size: 64)
        func features(_ x: Tensor, bf16: Bool) throws -> Tensor {
            try Torch.withoutGrad {
                try bf16 ? Torch.withAutocast { try classifier.features(x) } : classifier.features(x)
            }
        }
        let (float, autocast) = (try features(x, bf16: false), try features(x, bf16: true))
        classifier.evaluatesThroughOneDNN = true
        if !OneDNNNetwork.hasBFloat16Kernels {
            #expect(classifier.oneDNNBody(side: 64, bfloat16: true) == nil)
            #expect(try maxAbsDifference(features(x, bf16: true), autocast) == 0)
        }
        for bf16 in OneDNNNetwork.hasBFloat16Kernels ? [false, true] : [false] {
            let network = try #require(classifier.oneDNNBody(side: 64, bfloat16: bf16))
            #expect(network.bfloat16 == bf16)
            let direct = try features(x, bf16: bf16)
            #expect(try maxAbsDifference(direct, network(x)) == 0)
            #expect(try maxAbsDifference(direct, bf16 ? autocast : float) > 0)
            #expect(classifier.oneDNNBody(side: 64, bfloat16: bf16) === network)
            #expect(classifier.oneDNNBody(side: 96, bfloat16: bf16) !== network)
        }
        #expect(try features(patternInput(batch: 2, size: 96), bf16: true).shape[2] == 3)
        classifier.evaluatesThroughOneDNN = false
        #expect(try maxAbsDifference(features(x, bf16: false), float) == 0)
        #expect(try maxAbsDifference(features(x, bf16: true), autocast) == 0)
        // For a check on weights that train on: on inside, the setting found restored afterwards.
        #expect(Classifier.evaluatingThroughOneDNN(classifier) { classifier.evaluatesThroughOneDNN })
        #expect(!classifier.evaluatesThroughOneDNN)
        // In training mode (last: it moves the BatchNorm statistics) the flag is not looked at.
        classifier.evaluatesThroughOneDNN = true
        let network = try #require(classifier.oneDNNBody(side: 64, bfloat16: false))
        classifier.train()
        #expect(try maxAbsDifference(features(x, bf16: false), network(x)) > 0)
    }
}
