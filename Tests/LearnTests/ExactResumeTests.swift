import Foundation
import NN
import TestSupport
import Testing
import Torch

@testable import Learn

/// Stops a fit after one batch of one epoch, as Ctrl-C does, saving the epoch-start snapshot and the best epoch.
final class InterruptAt: Callback {
    let epoch: Int, batch: Int, url: URL
    let snapshots: EpochStartSnapshots, keepBest: KeepBest
    init(epoch: Int, batch: Int, url: URL, snapshots: EpochStartSnapshots, keepBest: KeepBest) {
        (self.epoch, self.batch, self.url, self.snapshots, self.keepBest) = (epoch, batch, url, snapshots, keepBest)
    }
    struct Stop: Error {}
    func afterBatch(_ learner: Learner) throws {
        guard learner.epoch == epoch, learner.batchIndex == batch else { return }
        try learner.saveCheckpoint(to: url, snapshot: snapshots.latest, extra: keepBest.checkpointEntries())
        throw Stop()
    }
}

@Suite("Exact resume", .serialized)
struct ExactResumeTests {
    /// SGDR over two cycles of two epochs, interrupted mid-way through the third epoch, then resumed in a fresh
    /// learner: the weights, the history and the best epoch equal those of the run that was never interrupted.
    @Test func anInterruptedThenResumedFitEndsWithTheSameWeights() throws {
        let url = try Fixtures.temporaryFolder().appendingPathComponent("interrupted.safetensors")
        func fit(_ learner: Learner, from first: Int = 0, extra: [Callback]) throws {
            learner.recorder.phase = "unfrozen"
            try learner.fitSGDR(rates: [1e-2, 3e-2], cycles: 2, cycleLength: 2, from: first, extra: extra)
        }
        let (straight, straightModel) = try mlpLearner(seed: 3)
        let straightBest = KeepBest()
        try fit(straight, extra: [straightBest])

        let (interrupted, _) = try mlpLearner(seed: 3)
        let snapshots = EpochStartSnapshots(), best = KeepBest()
        let stop = InterruptAt(epoch: 2, batch: 3, url: url, snapshots: snapshots, keepBest: best)
        #expect(throws: InterruptAt.Stop.self) { try fit(interrupted, extra: [snapshots, best, stop]) }

        // A fresh learner (same seed: same data order), scrambled so that only the checkpoint can set it right.
        let (resumed, resumedModel) = try mlpLearner(seed: 3)
        try resumed.fit(epochs: 1, rates: [5e-2])
        let metadata = try resumed.loadCheckpoint(from: url)
        let position = try #require(Learner.resumePosition(in: metadata))
        #expect(position == .init(phase: "unfrozen", epoch: 2))
        #expect(resumed.epochsDone == 2)
        let resumedBest = KeepBest()
        try resumedBest.resume(from: url)
        try fit(resumed, from: position.epoch, extra: [resumedBest])

        #expect(resumed.epochsDone == straight.epochsDone)
        for (name, want) in straightModel.stateDict() {
            let got = try #require(resumedModel.stateDict()[name])
            #expect(try got.rawBytes() == want.rawBytes(), "\(name) differs after the resumed run")
        }
        #expect(resumed.recorder.epochs.map(\.trainLoss) == straight.recorder.epochs.map(\.trainLoss))
        #expect(resumed.recorder.steps.count == straight.recorder.steps.count)
        #expect(resumedBest.bestEpoch == straightBest.bestEpoch && resumedBest.best == straightBest.best)
    }
}
