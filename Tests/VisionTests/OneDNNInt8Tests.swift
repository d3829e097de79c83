import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

/// A body's graph run in INT8 through oneDNN directly (``OneDNNNetwork/init(_:input:output:ranges:)``) against the
/// same calibration run by libtorch's quantized operators (``QuantizedNetwork``) and against float.
@Suite(
    "oneDNN INT8 bodies", .serialized,
    .enabled(
        if: Torch.defaultDevice == .cpu && OneDNNNetwork.hasInt8Kernels,
        "oneDNN runs on the CPU, where built and where it has INT8 kernels"))
struct OneDNNInt8Tests {
    /// Random Lite0 (SAME padding, ReLU6, residual sums) and ResNet-18 (ReLU after the sum, max pooling): the first
    /// block's uint8 values are libtorch's to one step (measured: equal), and the whole body stays within what such
    /// steps compound to deep in a random network (the fused sums round once where libtorch rounds the convolution
    /// and then the sum; measured 27 and 36 dB).
    @Test func int8ThroughOneDNNComputesWhatLibtorchComputes() throws {
        try Int8BodyTests.expectCloseToINT8 { graph, ranges, x, out in
            let libtorch = try QuantizedNetwork(graph, input: "image", output: out, ranges: ranges)
            libtorch.runsThroughOneDNN = false
            let onednn = try OneDNNNetwork(graph, input: "image", output: out, ranges: ranges)
            return (try onednn(x), try Torch.inferenceMode { try libtorch(x) })
        }
    }
}

extension OneDNNInt8Tests {
    /// A quantized classifier body runs through oneDNN unless told not to, and both paths agree.
    @Test func theQuantizedNetworkTakesOneDNNUnlessToldNot() throws {
        Torch.manualSeed(5)
        let body = try EfficientNetLite(.lite0, classes: nil)
        body.eval()
        var graph = InferenceGraph()
        let output = try body.exportFeatures("image", side: 32, into: &graph)
        let x = try patternInput(batch: 2, size: 32)
        let ranges = try ActivationRanges.observe(graph, input: "image", output: output, batches: [x])
        let network = try QuantizedNetwork(graph, input: "image", output: output, ranges: ranges)
        #expect(network.runsThroughOneDNN)
        let direct = try Torch.inferenceMode { try network(x) }
        network.runsThroughOneDNN = false
        #expect(!network.runsThroughOneDNN)
        let libtorch = try Torch.inferenceMode { try network(x.contiguous(.channelsLast)) }
        #expect(try Int8BodyTests.sqnr(direct, libtorch) >= 20)
        // Its float32 stem stays float32 inside a caller's bf16 autocast: the same bytes.
        let underAutocast = try Torch.inferenceMode {
            try Torch.withAutocast(.bfloat16) { try network(x.contiguous(.channelsLast)) }
        }
        #expect(try maxAbsDifference(underAutocast, libtorch) == 0)
    }

    /// Bad parameters are refused with a message, not run.
    @Test func badQuantizationIsRefused() throws {
        #expect(throws: TorchError.self) { try OneDNNNetwork(int8InputScale: -1, zeroPoint: 0) }
        #expect(throws: TorchError.self) { try OneDNNNetwork(int8InputScale: 1, zeroPoint: 300) }
        let network = try OneDNNNetwork(int8InputScale: 0.1, zeroPoint: 128)
        let weight = try Tensor.full([4, 3, 1, 1], 200)
        do {
            _ = try network.convolution(
                0, integers: weight, weightScales: Tensor.full([4], 0.01), bias: nil, stride: (1, 1),
                padBefore: (0, 0), padAfter: (0, 0), groups: 1, scale: 0.1, zeroPoint: 0)
            Issue.record("weights beyond ±127 were taken")
        } catch {
            #expect("\(error)".contains("127"))
        }
        #expect(throws: TorchError.self) {
            try network.convolution(
                0, weight: Tensor.full([4, 3, 1, 1], 1), bias: nil, stride: (1, 1),
                padBefore: (0, 0), padAfter: (0, 0), groups: 1)
        }
        // A float32 layer reads float32 values, an INT8 one uint8 values: the input here is quantized.
        do {
            _ = try network.floatConvolution(
                0, weight: Tensor.full([4, 3, 1, 1], 1), bias: nil, stride: (1, 1), padBefore: (0, 0),
                padAfter: (0, 0), groups: 1, quantizedTo: (0.1, 0))
            Issue.record("a float32 convolution read a uint8 value")
        } catch {
            #expect("\(error)".contains("value 0 is uint8"))
        }
        // What the shim checks before oneDNN sees it: scales, a bias per output channel, groups that divide them.
        #expect(throws: TorchError.self) { try OneDNNNetwork(int8InputScale: .infinity, zeroPoint: 0) }
        #expect(throws: TorchError.self) { try OneDNNNetwork(int8InputScale: 1e-50, zeroPoint: 0) }
        let float = try OneDNNNetwork(bfloat16: false)
        for (bias, groups) in [(try Tensor.full([3], 0), 1), (nil, 3), (nil, 0)] {
            do {
                _ = try float.convolution(
                    0, weight: Tensor.full([4, 3, 1, 1], 1), bias: bias, stride: (1, 1), padBefore: (0, 0),
                    padAfter: (0, 0), groups: groups)
                Issue.record("bias \(bias?.shape ?? []) with groups \(groups) was taken")
            } catch {
                #expect("\(error)".contains(bias == nil ? "groups" : "bias"), "\(error)")
            }
        }
        do {
            _ = try float.maxPool(0, kernel: (3, 3), stride: (0, 2), padBefore: (1, 1), padAfter: (1, 1))
            Issue.record("a max pool with stride 0 was taken")
        } catch {
            #expect("\(error)".contains("strides"), "\(error)")
        }
        let floatInput = try OneDNNNetwork(int8InputScale: 0, zeroPoint: 0)
        do {
            _ = try floatInput.convolution(
                0, integers: Tensor.full([4, 3, 1, 1], 1), weightScales: Tensor.full([4], 0.01), bias: nil,
                stride: (1, 1), padBefore: (0, 0), padAfter: (0, 0), groups: 1, scale: 0.1, zeroPoint: 0)
            Issue.record("an INT8 convolution read a float32 value")
        } catch {
            #expect("\(error)".contains("value 0 is float32"))
        }
    }

    /// A float32 convolution in an INT8 network computes in float32 and quantizes its output once: against
    /// libtorch's float convolution, ReLU6 in the output's units (a scale and zero point that put neither 0 nor 6 on
    /// the ends of uint8's range) and no activation (negative outputs, a zero point mid-range) to half a step;
    /// kept float32, to float precision.
    @Test func aFloatLayerQuantizesItsOutputOnce() throws {
        Torch.manualSeed(4)
        let x = try Tensor.randn([2, 3, 20, 20]), weight = try Tensor.randn([8, 3, 3, 3]) * 0.5
        let bias = try Tensor.randn([8])
        let conv = try Functional.conv2d(x, weight: weight, bias: bias, stride: (2, 2), padding: (1, 1))
        let cases: [(OneDNNNetwork.Activation, Tensor, (scale: Double, zeroPoint: Int)?)] = [
            (.relu6, try conv.clamp(0, 6), (8.0 / 255, 20)),
            (.none, try conv.clamp(-128 * 0.05, 127 * 0.05), (0.05, 128)),
            (.relu6, try conv.clamp(0, 6), nil),
        ]
        for (activation, want, quantized) in cases {
            let network = try OneDNNNetwork(int8InputScale: 0, zeroPoint: 0)
            _ = try network.floatConvolution(
                0, weight: weight, bias: bias, stride: (2, 2), padBefore: (1, 1), padAfter: (1, 1), groups: 1,
                activation: activation, quantizedTo: quantized)
            let tolerance = quantized.map { $0.scale / 2 + 1e-5 } ?? 1e-4
            #expect(
                try maxAbsDifference(network(x), want) <= tolerance, "\(activation) \(String(describing: quantized))")
        }
    }
}
