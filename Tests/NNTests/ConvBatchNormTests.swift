import TestSupport
import Testing
import Torch

@testable import NN

/// ``ConvBatchNorm`` folds a BatchNorm that uses its running statistics into the convolution on every call.
/// These tests hold the folded call to the two layers run one after the other: same output, same gradients.
@Suite("Convolution + BatchNorm, folded on the fly")
struct ConvBatchNormTests {
    /// A 3→5 convolution with a bias and a BatchNorm with non-trivial statistics, γ and β.
    static func pair() throws -> ConvBatchNorm {
        let conv = try Conv2d(3, 5, kernel: 3, padding: 1, bias: true)
        let bn = try BatchNorm2d(5)
        try Torch.withoutGrad {
            try bn.runningMean.copyInPlace(from: Tensor.randn([5]))
            try bn.runningVar.copyInPlace(from: Tensor.rand([5]) + 0.5)
            try bn.weight.copyInPlace(from: Tensor.randn([5]))
            try bn.bias.copyInPlace(from: Tensor.randn([5]))
        }
        return ConvBatchNorm(conv, bn)
    }

    /// Output and the gradients of Σ output·r for the conv's weight and bias and the BatchNorm's γ and β.
    static func outputAndGradients(
        _ layer: ConvBatchNorm, _ x: Tensor, _ r: Tensor, _ forward: (Tensor) throws -> Tensor
    ) throws -> (Tensor, [Tensor]) {
        let parameters = [layer.conv.weight, layer.conv.bias, layer.bn.weight, layer.bn.bias].compactMap { $0 }
        for p in parameters { try p.zeroGrad() }
        let y = try forward(x)
        try (y * r).sum().backward()
        let gradients = try parameters.map { p in
            let g = try p.grad
            return try #require(g).detached().clone()
        }
        return (try y.detached(), gradients)
    }

    @Test(arguments: [false, true])
    func foldedCallMatchesConvolutionThenBatchNorm(trainingWithFixedStatistics: Bool) throws {
        Torch.manualSeed(3)
        let layer = try Self.pair()
        // Eval mode, or training mode with the statistics fixed (the fine-tuning recipe's body): both fold.
        layer.bn.train(trainingWithFixedStatistics)
        layer.bn.updatesStatistics = !trainingWithFixedStatistics
        #expect(!layer.bn.normalisesWithBatch)
        let x = try Tensor.randn([2, 3, 6, 6]).contiguous(.channelsLast)
        let r = try Tensor.randn([2, 5, 6, 6])
        let mean = try layer.bn.runningMean.floats()
        let (folded, foldedGrads) = try Self.outputAndGradients(layer, x, r) { try layer($0) }
        let (plain, plainGrads) = try Self.outputAndGradients(layer, x, r) { try layer.bn(layer.conv($0)) }
        #expect(try maxAbsDifference(folded, plain) < 1e-5)
        #expect(foldedGrads.count == 4)
        for (a, b) in zip(foldedGrads, plainGrads) { #expect(try maxAbsDifference(a, b) < 1e-4) }
        #expect(try layer.bn.runningMean.floats() == mean, "running statistics stay fixed")
    }

    @Test func trainingWithBatchStatisticsDoesNotFold() throws {
        Torch.manualSeed(4)
        let layer = try Self.pair()
        layer.bn.train(true)
        #expect(layer.bn.normalisesWithBatch)
        let x = try Tensor.randn([4, 3, 6, 6]) * 2 + 1
        let y = try layer(x)
        // Normalised with the batch's own statistics: each channel of the output has mean β.
        let channelMeans = try y.mean([0, 2, 3]).floats()
        for (m, beta) in zip(channelMeans, try layer.bn.bias.floats()) { #expect(abs(m - beta) < 1e-4) }
        #expect(try layer.bn.batchesTracked.item() == 1)
    }
}
