import Foundation
import Learn
import NN
import Testing
import Torch

@testable import Workflow

@Suite("The time-budget guard")
struct TimeBudgetTests {
    /// A tiny learner on random features.
    func learner() throws -> Learner {
        Torch.manualSeed(0)
        let x = try Tensor.randn([64, 4]), y = try (Tensor.rand([64]) * 2).floor().to(.int64)
        let layer = try Linear(4, 2)
        let learner = Learner(
            model: layer, groups: [[layer]], train: FeatureBatches(features: x, labels: y, batchSize: 16),
            valid: FeatureBatches(features: x, labels: y, shuffle: false))
        learner.verbose = false
        return learner
    }

    @Test func stopsBeforeAnEpochThatWouldOverrunButRecordsTheOneItRan() throws {
        let l = try learner()
        try l.fit(epochs: 5, extra: [TimeBudget(deadline: Date())])
        #expect(l.recorder.epochs.count == 1)
        let roomy = try learner()
        try roomy.fit(epochs: 3, extra: [TimeBudget(deadline: Date().addingTimeInterval(3600))])
        #expect(roomy.recorder.epochs.count == 3)
    }

    @Test func theLastEpochIsNeverCancelled() throws {
        let l = try learner()
        let budget = TimeBudget(deadline: Date())
        try l.fit(epochs: 1, extra: [budget])
        #expect(l.recorder.epochs.count == 1)
    }
}
