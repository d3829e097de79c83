import TestSupport
import Testing
import Torch

/// Autograd against central finite differences, in float64.
@Suite("Gradients against finite differences")
struct GradientTests {
    init() { Torch.manualSeed(7) }

    @Test func conv2dWithGroups() throws {
        let x = try Tensor.randn([2, 4, 5, 5], dtype: .float64)
        let w = try Tensor.randn([6, 2, 3, 3], dtype: .float64)
        let b = try Tensor.randn([6], dtype: .float64)
        let error = try gradientError(inputs: [x, w, b]) {
            try Functional.conv2d($0[0], weight: $0[1], bias: $0[2], stride: (2, 1), padding: (1, 1), groups: 2)
        }
        #expect(error < 1e-6)
    }

    @Test func batchNormInTraining() throws {
        let x = try Tensor.randn([4, 3, 2, 2], dtype: .float64)
        let gamma = try Tensor.randn([3], dtype: .float64), beta = try Tensor.randn([3], dtype: .float64)
        let error = try gradientError(inputs: [x, gamma, beta]) {
            try Functional.batchNorm(
                $0[0], weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true)
        }
        #expect(error < 1e-6)
    }

    @Test func linear() throws {
        let x = try Tensor.randn([3, 5], dtype: .float64)
        let w = try Tensor.randn([4, 5], dtype: .float64), b = try Tensor.randn([4], dtype: .float64)
        let error = try gradientError(inputs: [x, w, b]) { try Functional.linear($0[0], weight: $0[1], bias: $0[2]) }
        #expect(error < 1e-7)
    }

    @Test func weightedCrossEntropy() throws {
        let logits = try Tensor.randn([5, 3], dtype: .float64)
        let target = try Tensor([0, 2, 1, 2, 0] as [Int64])
        let weight = try Tensor([1, 2, 0.5] as [Double])
        let error = try gradientError(inputs: [logits]) {
            try Functional.crossEntropy($0[0], target: target, weight: weight, labelSmoothing: 0.1)
        }
        #expect(error < 1e-7)
    }

    @Test func gridSampleInputAndGrid() throws {
        let x = try Tensor.randn([1, 2, 4, 5], dtype: .float64)
        let grid = try Tensor.rand([1, 3, 3, 2], dtype: .float64) * 1.6 - 0.8
        let error = try gradientError(inputs: [x, grid]) { try Functional.gridSample($0[0], grid: $0[1]) }
        #expect(error < 1e-6)
    }

    @Test func noGradScopeRecordsNothing() throws {
        let w = try Tensor.randn([3]).requiringGrad()
        let y = try Torch.withoutGrad { try (w * 2).sum() }
        #expect(!y.requiresGrad)
        #expect(throws: TorchError.self) { try y.backward() }
        let z = try (w * 2).sum()
        try z.backward()
        #expect(try w.grad?.floats() == [2, 2, 2])
        try (w * 3).sum().backward()  // gradients accumulate
        #expect(try w.grad?.floats() == [5, 5, 5])
        try w.zeroGrad()
        #expect(try w.grad == nil)
        let inference = try Torch.inferenceMode { try (w * 2).sum() }
        #expect(!inference.requiresGrad)
        #expect(try w.detached().requiresGrad == false)
    }
}
