import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

@testable import Learn

@Suite("Classification tasks", .serialized)
struct ClassificationTaskTests {
    /// PyTorch's definition written out: −mean(w·y·log σ(x) + (1 − y)·log(1 − σ(x))), w the label's positive weight.
    @Test func binaryCrossEntropyMatchesItsDefinition() throws {
        let x: [Float] = [2.0, -1.0, 0.5, -3.0, 0.0, 4.0], y: [Float] = [1, 0, 0, 1, 1, 0]
        let w: [Float] = [3, 0.5, 2]
        var expected = 0.0
        for i in 0..<6 {
            let s = 1 / (1 + exp(-Double(x[i]))), weight = Double(w[i % 3])
            expected -= weight * Double(y[i]) * log(s) + (1 - Double(y[i])) * log(1 - s)
        }
        expected /= 6
        let loss = try Functional.binaryCrossEntropyWithLogits(
            Tensor(x, shape: [2, 3]), target: Tensor(y, shape: [2, 3]), positiveWeight: Tensor(w)
        ).item()
        #expect(abs(loss - expected) < 1e-5, "\(loss) against \(expected)")
        // The task's loss is the same, with the same weights.
        let taskLoss = try MultiLabelTask().loss(weights: w.map(Double.init))(
            Tensor(x, shape: [2, 3]), Tensor(y, shape: [2, 3])
        ).item()
        #expect(abs(taskLoss - expected) < 1e-5)
    }

    /// The labels a learner returns: class indices, or 0/1 per label in row order; each task reads its own back.
    @Test func tasksReadTheirLabelsAndDecide() {
        let multi = MultiLabelTask(), single = SingleLabelTask()
        #expect(multi.truth([1, 0, 1, 0, 0, 0], labelCount: 3) == [[true, false, true], [false, false, false]])
        #expect(single.truth([2, 0], labelCount: 3) == [[false, false, true], [true, false, false]])
        #expect(multi.plainDecisions([0.7, 0.2, 0.5]) == [true, false, true])
        #expect(single.plainDecisions([0.2, 0.5, 0.3]) == [false, true, false])
        // A label on 10 of 40 photos weighs its positives 3 times; one no photo has weighs 1.
        #expect(multi.balancingWeights(counts: [10, 0, 20], total: 40) == [3, 1, 1])
        #expect(TaskKind(rawValue: "multi-label")?.task.kind == .multiLabel)
    }

    /// Three labels that depend on the signs of three features, any number per point: a learner with the
    /// multi-label task learns them (sigmoid and binary cross-entropy), and its metrics are the multi-label ones.
    @Test func aMultiLabelLearnerLearnsIndependentLabels() throws {
        Torch.manualSeed(3)
        let n = 300
        let x = try Tensor.randn([n, 6])
        let signs = try x.toArray(Float.self)
        let targets = (0..<n).flatMap { i in (0..<3).map { k in signs[i * 6 + k] > 0 ? Float(1) : 0 } }
        let y = try Tensor(targets, shape: [n, 3])
        let task = MultiLabelTask()
        let first = try Linear(6, 16), second = try Linear(16, 3)
        let model = Sequential([first, ReLU(), second])
        let learner = Learner(
            model: model, groups: [[first], [second]],
            train: FeatureBatches(features: x, labels: y, batchSize: 32, seed: 3),
            valid: FeatureBatches(features: x, labels: y, batchSize: 64, shuffle: false),
            metrics: task.metrics(classCount: 3), task: task)
        learner.verbose = false
        try learner.fitOneCycle(epochs: 6, maxRate: [3e-2])
        let metrics = try #require(learner.recorder.epochs.last?.metrics)
        #expect(metrics.map(\.name) == ["map", "macro_f1", "accuracy_multi"])
        #expect(try #require(metrics.first?.value) > 0.95)
        let (probabilities, labels, loss) = try learner.predict(FeatureBatches(features: x, labels: y, shuffle: false))
        #expect(labels.count == n * 3 && probabilities.allSatisfy { $0.count == 3 })
        // Sigmoid, not softmax: the rows do not sum to 1.
        #expect(probabilities.contains { abs($0.reduce(0, +) - 1) > 0.2 })
        #expect(loss < 0.3)
        let scores = try MultiLabelScores(
            probabilities: probabilities, labels: task.truth(labels, labelCount: 3), thresholds: [0.5, 0.5, 0.5])
        #expect(scores.accuracyMulti > 0.9)
    }

    @Test func bestF1ThresholdCutsBetweenTheScoresThatMaximiseIt() {
        // Positives at 0.9, 0.8, 0.4; negatives at 0.6, 0.3. Cutting below 0.4 calls 4 positive: F1 = 6 / 7 (0.857),
        // better than cutting at 0.7 (2 of 3 found: 0.8).
        let t = Calibration.bestF1Threshold(
            scores: [0.9, 0.8, 0.6, 0.4, 0.3], positives: [true, true, false, true, false])
        #expect(abs(t - 0.35) < 1e-12)
        #expect(Calibration.bestF1Threshold(scores: [0.2, 0.1], positives: [false, false]) == 0.5)
    }
}
