import Foundation
import NN
import TestSupport
import Testing
import Torch

@testable import Learn

/// The open loop: callbacks replace the loss and cancel the step; gradient accumulation, built on them, trains as
/// the larger batch does.
@Suite("The open training loop", .serialized)
struct OpenLoopTests {
    func train(batchSize: Int, callbacks: [Callback], epochs: Int = 2) throws -> (weights: [Float], losses: [Double]) {
        let (x, y) = try DataParallelTests.data()
        let model = try DataParallelTests.model(seed: 1)
        let learner = Learner(
            model: model, groups: [[model]],
            train: FeatureBatches(features: x, labels: y, batchSize: batchSize, seed: 5),
            valid: nil, metrics: [], baseRate: 0.01)
        learner.verbose = false
        learner.callbacks += callbacks
        try learner.fit(epochs: epochs)
        let weights = try model.parameters.flatMap { try $0.detached().flattened().toArray(Float.self) }
        return (weights, learner.recorder.steps.map(\.loss))
    }

    /// Two batches of 16 with accumulation update the weights as one batch of 32 does (the same photos, the same
    /// order, a constant rate); without it, they do not. The history keeps each batch's real loss.
    @Test func accumulatingTwoHalvesEqualsTheWholeBatch() throws {
        let whole = try train(batchSize: 32, callbacks: [])
        let accumulated = try train(batchSize: 16, callbacks: [GradientAccumulation(batches: 2)])
        let plain = try train(batchSize: 16, callbacks: [])
        let difference = zip(whole.weights, accumulated.weights).map { abs($0 - $1) }.max() ?? .infinity
        let apart = zip(whole.weights, plain.weights).map { abs($0 - $1) }.max() ?? 0
        #expect(difference < 1e-5, "accumulated 2 × 16 differs from 32 by \(difference)")
        #expect(apart > 1e-3, "plain 16-batches should train differently (\(apart))")
        #expect(accumulated.losses.count == 2 * whole.losses.count)
        #expect(abs(accumulated.losses[0] - plain.losses[0]) < 1e-9, "the recorded loss is the unscaled one")
    }

    /// A callback that cancels every backward pass leaves the weights where they started.
    @Test func cancellingBackwardLeavesTheWeights() throws {
        final class NoBackward: Callback {
            func beforeBackward(_ learner: Learner) throws { throw CancelBackward() }
        }
        let start = try DataParallelTests.model(seed: 1).parameters.flatMap {
            try $0.detached().flattened().toArray(Float.self)
        }
        #expect(try train(batchSize: 32, callbacks: [NoBackward()], epochs: 1).weights == start)
    }

    /// Loss scaling changes nothing but the range the gradients pass through: with a scale of 1024 the weights end
    /// where unscaled training leaves them (a scale that is a power of two is exact in float32).
    @Test func scaledTrainingEqualsUnscaledTraining() throws {
        let scaler = GradScaler(scale: 1024, growthInterval: 3)
        let scaled = try train(batchSize: 16, callbacks: [scaler])
        let plain = try train(batchSize: 16, callbacks: [])
        let difference = zip(scaled.weights, plain.weights).map { abs($0 - $1) }.max() ?? .infinity
        #expect(difference < 1e-5, "scaled training differs by \(difference)")
        #expect(scaled.losses == plain.losses, "the history keeps the unscaled loss")
        // Two epochs of 96 / 16 = 6 batches: 12 good steps, so the scale doubled after steps 3, 6, 9 and 12.
        #expect(scaled.losses.count == 12 && scaler.scale == 16384 && scaler.skippedSteps == 0)
    }

    /// A step whose gradients overflowed is skipped (the weights stay, the gradients are dropped) and the scale
    /// halves; the next good step trains as usual.
    @Test func anOverflowSkipsTheStepAndHalvesTheScale() throws {
        final class Overflow: Callback {
            var order: Int { 5 }
            func afterLoss(_ learner: Learner) throws {
                if learner.batchIndex == 0, learner.epoch == 0, let loss = learner.loss {
                    learner.loss = try loss * Double.infinity
                }
            }
        }
        let start = try DataParallelTests.model(seed: 1).parameters.flatMap {
            try $0.detached().flattened().toArray(Float.self)
        }
        let scaler = GradScaler(scale: 256)
        let (x, y) = try DataParallelTests.data()
        let model = try DataParallelTests.model(seed: 1)
        let learner = Learner(
            model: model, groups: [[model]],
            train: FeatureBatches(features: x, labels: y, batchSize: 96, seed: 5), valid: nil, metrics: [],
            baseRate: 0.01)
        learner.verbose = false
        learner.callbacks += [Overflow(), scaler]
        try learner.fit(epochs: 1)
        let weights = try model.parameters.flatMap { try $0.detached().flattened().toArray(Float.self) }
        #expect(weights == start, "the overflowing step must not move the weights")
        #expect(scaler.scale == 128 && scaler.skippedSteps == 1)
        #expect(try model.parameters.allSatisfy { try $0.grad.map { try $0.abs().sum().item() == 0 } ?? true })
        try learner.fit(epochs: 1)
        let moved = try model.parameters.flatMap { try $0.detached().flattened().toArray(Float.self) }
        #expect(moved != start && moved.allSatisfy(\.isFinite))
    }
}
