import NN
import Testing
import Torch

@testable import Vision

@Suite("The head's concatenated pooling")
struct ConcatPoolTests {
    /// A 2 × 3 × 4 × 4 map: random channels, and one channel of zeros (ReLU6's floor: 16 tied maxima).
    static func featureMap() throws -> [Float] {
        var values = try Tensor.randn([2, 3, 4, 4]).toArray(Float.self)
        for i in 16..<32 { values[i] = 0 }
        return values
    }

    /// Without gradients the maximum is a reduction: the very values of adaptive max pooling, in NCHW and
    /// channels-last maps alike, and the average beside it.
    @Test func withoutGradientsTheSameValues() throws {
        let values = try Self.featureMap()
        for layout in [MemoryFormat.contiguous, .channelsLast] {
            let x = try Tensor(values, shape: [2, 3, 4, 4]).contiguous(layout)
            let pooled = try Torch.withoutGrad { try AdaptiveConcatPool2d()(x) }
            let maxima = try Functional.adaptiveMaxPool2d(x, outputSize: (1, 1)).toArray(Float.self)
            let means = try Functional.adaptiveAvgPool2d(x, outputSize: (1, 1)).toArray(Float.self)
            #expect(pooled.shape == [2, 6, 1, 1])
            let out = try pooled.toArray(Float.self)
            for n in 0..<2 {
                #expect(Array(out[(n * 6)..<(n * 6 + 3)]) == Array(maxima[(n * 3)..<(n * 3 + 3)]), "\(layout)")
                #expect(Array(out[(n * 6 + 3)..<(n * 6 + 6)]) == Array(means[(n * 3)..<(n * 3 + 3)]), "\(layout)")
            }
        }
    }

    /// In training the maximum's gradient goes to one position of each channel, as adaptive max pooling sends it,
    /// also where 16 positions tie; the average's is shared.
    @Test func inTrainingTheGradientGoesToOnePosition() throws {
        let x = try Tensor(try Self.featureMap(), shape: [2, 3, 4, 4]).requiringGrad()
        try AdaptiveConcatPool2d()(x).sum().backward()
        let grad = try #require(try x.grad).toArray(Float.self)
        for channel in 0..<6 {
            let slice = grad[(channel * 16)..<(channel * 16 + 16)]
            #expect(slice.filter { abs($0 - (1 + 1.0 / 16)) < 1e-6 }.count == 1, "channel \(channel)")
            #expect(slice.filter { abs($0 - 1.0 / 16) < 1e-6 }.count == 15, "channel \(channel)")
        }
    }
}
