import Foundation
import NN
import TestSupport
import Testing
import Torch
import Vision

@testable import Learn

/// Two Gaussian blobs in 8 dimensions, labels 0/1.
func blobs(_ n: Int = 256, seed: UInt64 = 0) throws -> (Tensor, Tensor) {
    Torch.manualSeed(seed)
    let labels = try (Tensor.rand([n]) * 2).floor().to(.int64)
    let centres = try (labels.to(.float32).unsqueezed(1) * 2 - 1) * 0.4
    return (try Tensor.randn([n, 8]) + centres, labels)
}

/// A small MLP learner on the blobs, two layer groups.
func mlpLearner(seed: UInt64 = 1, verbose: Bool = false) throws -> (Learner, Sequential) {
    let (x, y) = try blobs()
    Torch.manualSeed(seed)
    let first = try Linear(8, 16), second = try Linear(16, 2)
    let model = Sequential([first, ReLU(), Dropout(0.1), second])
    let learner = Learner(
        model: model, groups: [[first], [second]],
        train: FeatureBatches(features: x, labels: y, batchSize: 32, seed: seed),
        valid: FeatureBatches(features: x, labels: y, batchSize: 64, shuffle: false))
    learner.verbose = verbose
    learner.seed = seed
    return (learner, model)
}

@Suite("Learner", .serialized)
struct LearnerTests {
    @Test func fitLearnsAndRecords() throws {
        let (learner, _) = try mlpLearner()
        try learner.fitOneCycle(epochs: 3, maxRate: [1e-2])
        #expect(learner.recorder.epochs.count == 3)
        #expect(learner.recorder.steps.count == 3 * 8)
        let accuracy = try #require(learner.recorder.epochs.last?.metrics.first?.value)
        #expect(accuracy > 0.8)
        #expect(learner.recorder.historyCSV().hasPrefix("phase,epoch,train_loss,valid_loss,accuracy,seconds\n"))
    }

    @Test func seededRunsMatch() throws {
        let (a, _) = try mlpLearner(seed: 9), (b, _) = try mlpLearner(seed: 9)
        try a.fitSGDR(rates: [1e-2], cycles: 2)
        try b.fitSGDR(rates: [1e-2], cycles: 2)
        #expect(a.recorder.steps.map(\.loss) == b.recorder.steps.map(\.loss))
    }

    @Test func lrFinderSuggestsARateNearTheBestFixedRate() throws {
        var finals: [(rate: Double, loss: Double)] = []
        for rate in [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1, 3] {
            let (learner, _) = try mlpLearner()
            try learner.fit(epochs: 2, rates: [rate])
            finals.append((rate, learner.recorder.epochs.last?.validLoss ?? .infinity))
        }
        let best = try #require(finals.min { $0.loss < $1.loss }).rate
        let (learner, model) = try mlpLearner()
        let before = try model.stateDict().mapValues { try $0.floats() }
        let result = try learner.findLearningRate()
        #expect(
            result.valley > best / 10 && result.valley < best * 10,
            "valley \(result.valley), steepest \(result.steepest), best fixed \(best), \(finals)")
        // Weights are restored.
        for (name, t) in model.stateDict() { #expect(try t.floats() == before[name], "\(name)") }
        #expect(learner.recorder.steps.isEmpty)
    }

    @Test func lrFinderSurvivesNaN() throws {
        let (learner, _) = try mlpLearner()
        // The loss turns NaN once the rate passes 1e-2.
        let plain = learner.lossFunction
        learner.lossFunction = { [unowned learner] out, y in
            let loss = try plain(out, y)
            return (learner.optimizer.groups[0].learningRate > 1e-2) ? try loss * Double.nan : loss
        }
        let result = try learner.findLearningRate()
        #expect(result.rates.allSatisfy { $0 <= 1e-2 * 1.2 })
        #expect(result.losses.allSatisfy { $0.isFinite })
        #expect(result.valley <= 1e-2 && result.steepest <= 1e-2)
    }

    @Test func frozenGroupsStayBitIdentical() throws {
        let (learner, model) = try mlpLearner()
        try learner.freeze()
        let first = model.children[0].module as! Linear, last = model.children[3].module as! Linear
        let frozen = try first.weight.floats(), head = try last.weight.floats()
        try learner.fit(epochs: 1, rates: [1e-2])
        #expect(try first.weight.floats() == frozen)
        #expect(try last.weight.floats() != head)
        try learner.unfreeze()
        try learner.fit(epochs: 1, rates: [1e-2])
        #expect(try first.weight.floats() != frozen)
        // Discriminative rates spread geometrically over the groups.
        #expect(learner.spread([1e-4, 1e-2]) == [1e-4, 1e-2])
        learner.baseRates = [1, 1]
        let three = Learner(
            model: model, groups: [[first], [model.children[1].module], [last]], train: learner.train, valid: nil)
        let spread = three.spread([1e-4, 1e-2])
        #expect(abs(spread[1] - 1e-3) < 1e-12)
    }

    @Test func checkpointResumesToTheIdenticalNextStep() throws {
        let url = try Fixtures.temporaryFolder().appendingPathComponent("run/model.safetensors")
        let (a, _) = try mlpLearner()
        try a.fit(epochs: 1, rates: [1e-2])
        try a.saveCheckpoint(to: url)
        try a.fit(epochs: 1, rates: [1e-2])
        let (b, _) = try mlpLearner(seed: 1)
        // Scramble b's weights first, so only the checkpoint can make them equal.
        try b.fit(epochs: 1, rates: [5e-2])
        try b.loadCheckpoint(from: url)
        #expect(b.epochsDone == 1)
        #expect(b.recorder.epochs.count == 1)
        try b.fit(epochs: 1, rates: [1e-2])
        #expect(a.recorder.steps[8].loss == b.recorder.steps[8].loss)
        #expect(a.recorder.steps.last?.loss == b.recorder.steps.last?.loss)
        // A newer format is refused with a clear message.
        var tensors = try Safetensors.read(url)
        tensors.metadata["format"] = "quadrat-checkpoint-9"
        try Safetensors.write(tensors.tensors, metadata: tensors.metadata, to: url)
        do {
            try b.loadCheckpoint(from: url)
            Issue.record("a newer checkpoint format was accepted")
        } catch let error as LearnError {
            #expect(error.message.contains("newer Quadrat"))
        }
    }

    @Test func earlyStoppingAndSaveBest() throws {
        let (learner, _) = try mlpLearner()
        let url = try Fixtures.temporaryFolder().appendingPathComponent("best.safetensors")
        let save = SaveBest(monitor: "accuracy", to: url)
        // A rate of 0 never improves: stops after `patience` epochs.
        try learner.fit(epochs: 10, rates: [0], extra: [EarlyStopping(monitor: "valid_loss", patience: 2), save])
        #expect(learner.recorder.epochs.count == 3)
        #expect(FileManager.default.fileExists(atPath: url.path))
    }
}
