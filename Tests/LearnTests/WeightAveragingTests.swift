import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

@testable import Learn

/// Records the trained weights after every step (after ``WeightAveraging`` has seen them) and at each epoch's end
/// of training, before validation swaps the average in.
private final class WeightTrace: Callback {
    var steps: [[String: [Float]]] = []
    var endOfTraining: [String: [Float]] = [:]
    var order: Int { 10 }
    func afterStep(_ learner: Learner) throws { steps.append(try floats(learner.model.stateDict())) }
    func afterTrain(_ learner: Learner) throws { endOfTraining = try floats(learner.model.stateDict()) }
    func floats(_ state: [String: Tensor]) throws -> [String: [Float]] { try state.mapValues { try $0.floats() } }
}

@Suite("Weight averaging", .serialized)
struct WeightAveragingTests {
    /// The model ends the fit holding the exponential moving average of the weights after every step (decay
    /// 1 − 1/steps per epoch, from the weights at the start), computed here by hand; and the training itself is the
    /// one a learner without the average runs: the weights it trains are the same, step for step.
    @Test func theModelEndsWithTheMovingAverageAndTrainsAsWithout() throws {
        let (plain, _) = try mlpLearner(seed: 3)
        let plainTrace = WeightTrace()
        try plain.fitSGDR(rates: [3e-2], cycles: 1, cycleLength: 2, extra: [plainTrace])

        let (averaged, model) = try mlpLearner(seed: 3)
        let start = try model.stateDict().mapValues { try $0.floats() }
        let trace = WeightTrace()
        try averaged.fitSGDR(rates: [3e-2], cycles: 1, cycleLength: 2, extra: [WeightAveraging(), trace])

        #expect(trace.steps.count == 16 && plainTrace.steps.count == 16)
        for (a, b) in zip(trace.steps, plainTrace.steps) {
            for (name, values) in a { #expect(values == b[name], "\(name) trained differently") }
        }
        let decay = 1 - 1.0 / 8
        var expected = start.mapValues { $0.map(Double.init) }
        for step in trace.steps {
            for (name, values) in step {
                expected[name] = zip(expected[name] ?? [], values).map { decay * $0 + (1 - decay) * Double($1) }
            }
        }
        let final = try model.stateDict().mapValues { try $0.floats() }
        var largest = 0.0
        for (name, values) in final {
            largest = max(largest, zip(values, expected[name] ?? []).map { abs(Double($0) - $1) }.max() ?? 0)
        }
        #expect(largest < 1e-5, "average differs by \(largest)")
        // And it is not simply the last trained weights.
        let trained = trace.endOfTraining
        #expect(final.contains { name, values in values != trained[name] })
    }

    /// Validation scores the average: the recorded validation loss is the averaged model's.
    @Test func validationScoresTheAverage() throws {
        let (learner, _) = try mlpLearner(seed: 4)
        try learner.fitSGDR(rates: [3e-2], cycles: 1, cycleLength: 2, extra: [WeightAveraging()])
        let recorded = try #require(learner.recorder.epochs.last?.validLoss)
        let (loss, _, _) = try learner.validate()
        #expect(abs(loss - recorded) < 1e-6, "\(loss) against \(recorded)")
    }

    /// A classifier's validation during the fit runs its body through oneDNN, built afresh from the weights it
    /// validates (the average, swapped in before it): the recorded loss is what ATen's path gives for them after the
    /// fit, to rounding, and the setting is off again outside validation.
    @Test(.enabled(if: Torch.defaultDevice == .cpu && OneDNNNetwork.isAvailable, "oneDNN runs on the CPU, where built"))
    func validationRunsThroughOneDNNOnTheAverage() throws {
        Torch.manualSeed(6)
        let classifier = try Classifier(.efficientNetLite0, classes: ["a", "b"], pretrained: false)
        let batch = (inputs: try patternInput(batch: 4, size: 64), targets: try Tensor([0, 1, 1, 0] as [Int64]))
        let valid = PathNotingSource(RepeatedBatch(batch, count: 1), classifier: classifier)
        let learner = try Learner(classifier, train: RepeatedBatch(batch, count: 4), valid: valid)
        try learner.unfreeze()
        try learner.fitSGDR(rates: [5e-2], cycles: 1, cycleLength: 2, extra: [WeightAveraging()])
        #expect(valid.throughOneDNN == [true, true] && !classifier.evaluatesThroughOneDNN)
        let recorded = learner.recorder.epochs.map(\.validLoss)
        let (loss, _, _) = try learner.validate()
        #expect(!classifier.evaluatesThroughOneDNN && valid.throughOneDNN.last == false)
        let last = try #require(recorded.last ?? nil), first = try #require(recorded.first ?? nil)
        #expect(abs(loss - last) < 1e-4 * max(1, abs(loss)), "\(loss) against \(last)")
        #expect(abs(first - last) > 1e-3, "the epochs validated the same weights: \(first), \(last)")
    }
}

/// A batch source that notes, each time its batches are asked for, whether the classifier evaluates through oneDNN.
private final class PathNotingSource: BatchSource {
    let inner: BatchSource, classifier: Classifier
    var throughOneDNN: [Bool] = []
    init(_ inner: BatchSource, classifier: Classifier) { (self.inner, self.classifier) = (inner, classifier) }
    var batchCount: Int { inner.batchCount }
    func batches(for epoch: Int) -> AnySequence<(inputs: Tensor, targets: Tensor)> {
        throughOneDNN.append(classifier.evaluatesThroughOneDNN)
        return inner.batches(for: epoch)
    }
}
