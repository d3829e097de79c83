import Foundation
import Learn
import Testing
import Torch
import Workflow

@Suite struct ClassWeightsTests {
    /// Inverse frequency: 30 and 10 images of 40 → 40 / (2 · 30) and 40 / (2 · 10); each class then weighs 20.
    @Test func autoWeighsEachClassTheSameInTotal() throws {
        let w = SingleLabelTask().balancingWeights(counts: [30, 10], total: 40)
        #expect(abs(w[0] - 2.0 / 3) < 1e-12 && abs(w[1] - 2) < 1e-12)
        #expect(abs(30 * w[0] - 10 * w[1]) < 1e-9)
        // In the loss: a batch with one image of each class, the rare one wrong, costs more with the weights.
        let logits = try Tensor([2, -2, 2, -2] as [Float], shape: [2, 2]), target = try Tensor([0, 1] as [Int64])
        let plain = try Functional.crossEntropy(logits, target: target).item()
        let weighted = try Functional.crossEntropy(
            logits, target: target, weight: Tensor(w.map(Float.init))
        ).item()
        #expect(weighted > plain + 0.5, "\(plain) → \(weighted)")
    }

    @Test func theOptionRoundTripsThroughAConfigFile() throws {
        let o = try TrainOptions.decodingConfig(
            Data(#"{"classWeights": "auto"}"#.utf8), yaml: false, over: TrainOptions(data: "d", out: "o"))
        #expect(o.classWeights == .auto)
        #expect(throws: (any Error).self) {
            try TrainOptions.decodingConfig(
                Data(#"{"classWeights": "heavy"}"#.utf8), yaml: false, over: TrainOptions(data: "d", out: "o"))
        }
    }
}
