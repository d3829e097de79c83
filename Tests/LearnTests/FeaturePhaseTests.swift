import Foundation
import NN
import TestSupport
import Testing
import Torch

@testable import Learn

/// The head on precomputed activations is a phase of the run's learner: its callbacks hear it, keep-best holds the
/// whole model, and the head trains exactly as a learner of its own would train it.
@Suite("The head on precomputed activations, as a phase of the learner", .serialized)
struct FeaturePhaseTests {
    final class EpochCounter: Callback {
        var epochs = 0
        func afterEpoch(_ learner: Learner) throws { epochs += 1 }
    }

    func weights(_ module: Module) throws -> [Float] {
        try module.parameters.flatMap { try $0.detached().flattened().toArray(Float.self) }
    }

    @Test func theRunsCallbacksHearThePhaseAndTheHeadTrainsAsAlone() throws {
        let (x, y) = try DataParallelTests.data()
        let model = try DataParallelTests.model(seed: 1)
        let (body, head) = (model.children[0].module, model.children[2].module)
        let features = try Torch.withoutGrad { try body(x).relu().detached() }
        let source = FeatureBatches(features: x, labels: y, batchSize: 16, seed: 5)
        let learner = Learner(model: model, groups: [[body], [head]], train: source, valid: nil, metrics: [.accuracy])
        learner.verbose = false
        let (counter, keepBest) = (EpochCounter(), KeepBest(monitor: "valid_loss"))
        learner.callbacks += [counter, keepBest]
        let bodyBefore = try weights(body)
        // The same head, trained alone from the same start, as the phase used to be run.
        let twin = try DataParallelTests.model(seed: 1).children[2].module
        try learner.fitOnFeatures(
            head, train: FeatureBatches(features: features, labels: y, batchSize: 16, seed: 5),
            valid: FeatureBatches(features: features, labels: y, shuffle: false), rate: 0.05, cycles: 3)
        let alone = Learner(
            model: twin, groups: [[twin]], train: FeatureBatches(features: features, labels: y, batchSize: 16, seed: 5),
            valid: FeatureBatches(features: features, labels: y, shuffle: false), metrics: [.accuracy])
        alone.verbose = false
        try alone.fitSGDR(rates: [0.05], cycles: 3)

        #expect(counter.epochs == 3 && learner.recorder.epochs.count == 3)
        let gap = zip(try weights(head), try weights(twin)).map { abs($0 - $1) }.max() ?? .infinity
        #expect(gap < 1e-6, "the head trained in the phase differs from the head trained alone by \(gap)")
        #expect(try weights(body) == bodyBefore, "the frozen body does not move")
        // Keep-best saw the phase's epochs and holds the whole model, body included.
        let kept = keepBest.checkpointEntries().tensors.keys
        #expect(keepBest.bestEpoch != nil && kept.count == model.stateDict().count, "\(kept.sorted())")
        // The learner is itself again: its module, its data, no image epochs counted.
        #expect(learner.network === model && learner.epochsDone == 0 && learner.train is FeatureBatches)
        #expect((learner.train as? FeatureBatches)?.features.shape == [96, 8])
    }

    @Test func theOptimizerComesFromTheFactory() throws {
        let model = try DataParallelTests.model(seed: 1)
        let (x, y) = try DataParallelTests.data()
        let source = FeatureBatches(features: x, labels: y)
        let sgd = Learner(model: model, groups: [[model]], train: source, valid: nil, optimizer: .sgd(weightDecay: 0.1))
        #expect(sgd.optimizer is SGD && sgd.optimizer.groups[0].weightDecay == 0.1)
        let adam = Learner(
            model: model, groups: [[model]], train: source, valid: nil, optimizer: .adamW(weightDecay: 0.05))
        #expect(adam.optimizer is AdamW && adam.optimizer.groups[0].weightDecay == 0.05)
        #expect(adam.optimizer.groups[0].parameters.count == model.parameters.count)
    }

    /// Early stopping counts its patience within each fit; the best value carries over between them.
    @Test func earlyStoppingCountsPatiencePerFit() throws {
        let (x, y) = try DataParallelTests.data()
        let model = try DataParallelTests.model(seed: 1)
        let learner = Learner(
            model: model, groups: [[model]], train: FeatureBatches(features: x, labels: y, seed: 5),
            valid: FeatureBatches(features: x, labels: y, shuffle: false), metrics: [], baseRate: 0)
        learner.verbose = false
        let stopping = EarlyStopping(monitor: "valid_loss", patience: 2)
        learner.callbacks.append(stopping)
        // At rate 0 nothing improves after the first epoch: each fit stops after 1 + patience epochs.
        try learner.fit(epochs: 10)
        #expect(learner.recorder.epochs.count == 3)
        try learner.fit(epochs: 10)
        #expect(learner.recorder.epochs.count == 5, "the second fit had its own patience of 2")
    }
}
