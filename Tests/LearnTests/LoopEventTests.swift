import Foundation
import NN
import TestSupport
import Testing
import Torch

@testable import Learn

/// Records the events it hears, and cancels a stage when told to.
final class EventLog: Callback {
    var events: [String] = []
    var cancelBatch: Int?
    var cancelTrainAfter: Int?
    var failAfterBatch: Int?

    func beforeFit(_ l: Learner) throws { events.append("beforeFit") }
    func beforeEpoch(_ l: Learner) throws { events.append("beforeEpoch") }
    func beforeTrain(_ l: Learner) throws { events.append("beforeTrain") }
    func beforeBatch(_ l: Learner) throws {
        events.append("beforeBatch")
        if l.batchIndex == cancelBatch { throw CancelBatch() }
    }
    func afterStep(_ l: Learner) throws { events.append("afterStep") }
    func afterBatch(_ l: Learner) throws {
        events.append("afterBatch")
        if l.batchIndex == failAfterBatch { throw TorchError("failed on purpose") }
        if l.batchIndex == cancelTrainAfter { throw CancelTrain() }
    }
    func afterTrain(_ l: Learner) throws { events.append("afterTrain") }
    func beforeValidate(_ l: Learner) throws { events.append("beforeValidate") }
    func afterValidate(_ l: Learner) throws { events.append("afterValidate") }
    func afterEpoch(_ l: Learner) throws { events.append("afterEpoch") }
    func afterFit(_ l: Learner) throws { events.append("afterFit") }
    func afterCancel(_ stage: LoopStage, _ l: Learner) throws { events.append("afterCancel \(stage)") }
}

@Suite("The loop's events, cancellations and kept epochs", .serialized)
struct LoopEventTests {
    @Test func cancellingABatchSkipsItsStepButNotItsAfterEvent() throws {
        let (learner, _) = try mlpLearner()
        let log = EventLog()
        log.cancelBatch = 0
        try learner.fit(epochs: 1, extra: [log])
        let firstBatch = Array(log.events.drop { $0 != "beforeBatch" }.prefix(3))
        #expect(firstBatch == ["beforeBatch", "afterCancel batch", "afterBatch"])
        #expect(log.events.filter { $0 == "afterStep" }.count == learner.train.batchCount - 1)
        #expect(learner.recorder.steps.count == learner.train.batchCount - 1)
    }

    @Test func cancellingTrainingStillValidatesAndRecordsTheEpoch() throws {
        let (learner, _) = try mlpLearner()
        let log = EventLog()
        log.cancelTrainAfter = 1
        try learner.fit(epochs: 2, extra: [log])
        #expect(log.events.filter { $0 == "afterCancel train" }.count == 2)
        #expect(log.events.filter { $0 == "afterValidate" }.count == 2)
        #expect(learner.recorder.epochs.count == 2 && learner.recorder.steps.count == 4)
        #expect(log.events.first == "beforeFit" && log.events.last == "afterFit")
    }

    @Test func anErrorPropagatesWithoutAfterEvents() throws {
        let (learner, _) = try mlpLearner()
        let log = EventLog()
        log.failAfterBatch = 2
        #expect(throws: TorchError.self) { try learner.fit(epochs: 1, extra: [log]) }
        #expect(!log.events.contains("afterFit") && !log.events.contains("afterTrain"))
    }

    @Test func validationUsesTheConfiguredLoss() throws {
        let (learner, _) = try mlpLearner()
        let plain = try learner.validate().loss
        learner.lossFunction = { try Functional.crossEntropy($0, target: $1) * 3 }
        #expect(abs(try learner.validate().loss - 3 * plain) < 1e-5)
    }

    @Test func keepBestRestoresTheBestEpochsWeights() throws {
        let (learner, model) = try mlpLearner()
        let keep = KeepBest(monitor: "valid_loss")
        try learner.fit(epochs: 3, rates: [1e-2], extra: [keep])
        let best = try #require(keep.bestEpoch)
        let losses = learner.recorder.epochs.compactMap(\.validLoss)
        #expect(losses[best] == losses.min())
        let bestWeights = try model.stateDict().mapValues { try $0.clone() }
        // Train on at a rate that ruins the model: the kept weights are still the best epoch's.
        try learner.fit(epochs: 2, rates: [5], extra: [keep])
        try keep.restoreBest(into: learner)
        for (name, t) in model.stateDict() {
            #expect(try maxAbsDifference(t, #require(bestWeights[name])) == 0, "\(name)")
        }
        #expect(abs(try learner.validate().loss - (keep.best ?? .nan)) < 1e-5)
    }

    @Test func lrFinderRestoresStateEvenWhenItFails() throws {
        let (learner, model) = try mlpLearner()
        try learner.fit(epochs: 1, rates: [1e-2])
        let before = try model.stateDict().mapValues { try $0.clone() }
        let (epochsDone, rates) = (learner.epochsDone, learner.baseRates)
        let log = EventLog()
        log.failAfterBatch = 3
        learner.callbacks = [log]
        #expect(throws: TorchError.self) { try learner.findLearningRate() }
        for (name, t) in model.stateDict() {
            #expect(try maxAbsDifference(t, #require(before[name])) == 0, "\(name)")
        }
        #expect(learner.epochsDone == epochsDone && learner.baseRates == rates && learner.recorder.epochs.count == 1)
        #expect(learner.valid != nil && !learner.verbose)
    }
}

/// A batch source that notes which epochs it served.
final class CountingSource: BatchSource {
    let inner: BatchSource
    var epochs: [Int] = []
    init(_ inner: BatchSource) { self.inner = inner }
    var batchCount: Int { inner.batchCount }
    func batches(for epoch: Int) -> AnySequence<(inputs: Tensor, targets: Tensor)> {
        epochs.append(epoch)
        return inner.batches(for: epoch)
    }
}

@Suite("Progressive resizing")
struct ProgressiveResizingTests {
    @Test func firstEpochsTrainOnTheSmallSourceThenTheFullOne() throws {
        let (learner, _) = try mlpLearner()
        let full = CountingSource(learner.train), small = CountingSource(learner.train)
        learner.train = full
        try learner.fit(epochs: 1)  // an earlier fit: epochs count on from here
        try learner.fit(epochs: 4, extra: [ProgressiveResizing(small: small, smallEpochs: 2)])
        #expect(small.epochs == [1, 2] && full.epochs == [0, 3, 4])
        #expect(learner.train === full)
        #expect(ProgressiveResizing.smallSize(for: 256) == 192 && ProgressiveResizing.smallSize(for: 224) == 160)
    }
}
