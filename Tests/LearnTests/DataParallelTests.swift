import Foundation
import Learn
import NN
import TestSupport
import Testing
import Torch
import Vision

/// Two ranks with batch 16 each end with the weights one process gets with batch 32: the same data order, the
/// gradients averaged after every backward pass, parameters broadcast from rank 0 at the start.
@Suite("Data-parallel training", .serialized)
struct DataParallelTests {
    static func model(seed: UInt64) throws -> Sequential {
        Torch.manualSeed(seed)
        return Sequential([try Linear(8, 16), ReLU(), try Linear(16, 3)])
    }

    static func data() throws -> (Tensor, Tensor) {
        Torch.manualSeed(99)
        let x = try Tensor.randn([96, 8])
        let y = try (x.narrowed(dim: 1, 0..<3).argmax(dim: 1))
        return (x, y)
    }

    static func train(_ model: Sequential, source: BatchSource, callbacks: [Callback]) throws -> [Float] {
        let learner = Learner(model: model, groups: [[model]], train: source, valid: nil, metrics: [])
        learner.verbose = false
        learner.callbacks += callbacks
        try learner.fitSGDR(rates: [0.05], cycles: 2)
        return try model.parameters.flatMap { try $0.detached().flattened().toArray(Float.self) }
    }

    @Test func twoRanksOfSixteenEqualOneOfThirtyTwo() throws {
        let (x, y) = try Self.data()
        let single = try Self.train(
            Self.model(seed: 1), source: FeatureBatches(features: x, labels: y, batchSize: 32, seed: 5), callbacks: [])
        let port = try Ranks.freePort()
        // Built here, one after the other: the seed is process-wide, so threads seeding it would race.
        // Rank 1 starts from other weights: the broadcast at the start must replace them with rank 0's.
        let models = Models([try Self.model(seed: 1), try Self.model(seed: 2)])
        let ranks = try Ranks.run(2) { rank -> [Float] in
            let model = models.list[rank]
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 30, backend: .gloo)
            let global = FeatureBatches(features: x, labels: y, batchSize: 32, seed: 5)
            return try Self.train(
                model, source: RankShard(global, rank: rank, worldSize: 2), callbacks: [DataParallel(group: group)])
        }
        let apart = zip(ranks[0], ranks[1]).map { abs($0 - $1) }.max() ?? .infinity
        let fromSingle = zip(ranks[0], single).map { abs($0 - $1) }.max() ?? .infinity
        #expect(apart == 0, "the ranks disagree by \(apart)")
        #expect(fromSingle < 1e-5, "2 × 16 differs from 1 × 32 by \(fromSingle)")
        // And the training did something: the weights moved from their start.
        let start = try Self.model(seed: 1).parameters.flatMap { try $0.flattened().toArray(Float.self) }
        #expect((zip(start, single).map { abs($0 - $1) }.max() ?? 0) > 1e-3)
    }
}

/// The ranks' models, handed to their threads (each thread touches only its own).
final class Models: @unchecked Sendable {
    let list: [Sequential]
    init(_ list: [Sequential]) { self.list = list }
}

/// Ends the fit after the step in which the ranks agreed to stop (as `InterruptCheckpoint` does after Ctrl-C).
final class StopWhenAgreed: Callback {
    let parallel: DataParallel
    init(_ parallel: DataParallel) { self.parallel = parallel }
    func afterBatch(_ learner: Learner) throws { if parallel.stopAgreed { throw CancelFit("agreed") } }
}

extension DataParallelTests {
    /// Only rank 1 wants to stop, during its third step: both ranks end after that same step, so neither waits for
    /// gradients that never come.
    @Test func aStopWantedByOneRankEndsEveryRankAfterTheSameStep() throws {
        let (x, y) = try Self.data()
        let port = try Ranks.freePort()
        let models = Models([try Self.model(seed: 1), try Self.model(seed: 1)])
        let steps = try Ranks.run(2) { rank -> Int in
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 30, backend: .gloo)
            let learner = Learner(
                model: models.list[rank], groups: [[models.list[rank]]],
                train: RankShard(
                    FeatureBatches(features: x, labels: y, batchSize: 16, seed: 5), rank: rank, worldSize: 2),
                valid: nil, metrics: [])
            learner.verbose = false
            let parallel = DataParallel(group: group)
            parallel.wantsToStop = { rank == 1 && learner.batchIndex == 2 }
            learner.callbacks += [parallel, StopWhenAgreed(parallel)]
            try learner.fitSGDR(rates: [0.05], cycles: 2)
            return learner.recorder.steps.count
        }
        #expect(steps == [3, 3])
    }
}

/// Precompute and validation split between two ranks give what one process computes.
@Suite(
    "Data-parallel precompute and validation", .serialized,
    .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct DataParallelClassifierTests {
    @Test func sharedPrecomputeAndValidationEqualOneProcess() throws {
        let dataset = try DataSource.labelled(makeKaggleDataSet(trainCount: 21, testCount: 1, size: 40))
        @Sendable func loader(_ shard: (Int, Int)?) -> DataLoader {
            let l = DataLoader(
                dataset, size: 32, batchSize: 8, shuffle: true, normalization: .imageNet, seed: 3)
            l.shard = shard
            return l
        }
        var classifiers: [Classifier] = []
        for _ in 0..<3 {
            Torch.manualSeed(3)
            classifiers.append(try Classifier(.efficientNetLite0, classes: dataset.classes))
        }
        let single = try classifiers[2].precompute(loader(nil))
        let singleValidation = try Learner(classifiers[2], train: loader(nil), valid: loader(nil)).validate()
        let shared = Classifiers(classifiers)
        let port = try Ranks.freePort()
        let ranks = try Ranks.run(2) { rank -> (Tensor, Tensor, Double, Double) in
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 60, backend: .gloo)
            let classifier = shared.list[rank]
            let (features, labels) = try classifier.precompute(loader((rank, 2)), group: group)
            let learner = try Learner(classifier, train: loader((rank, 2)), valid: loader((rank, 2)))
            learner.predictionGroup = group
            let validation = try learner.validate()
            return (
                features, labels, validation.loss,
                Metric.accuracy.compute(validation.probabilities, validation.labels)
            )
        }
        let accuracy = Metric.accuracy.compute(singleValidation.probabilities, singleValidation.labels)
        for (features, labels, loss, rankAccuracy) in ranks {
            #expect(features.shape == single.features.shape)
            #expect(try maxAbsDifference(features, single.features) < 1e-4)
            #expect(try labels.toArray(Int64.self) == single.labels.toArray(Int64.self))
            #expect(abs(loss - singleValidation.loss) < 1e-5, "\(loss) vs \(singleValidation.loss)")
            #expect(rankAccuracy == accuracy)
        }
    }
}

extension DataParallelClassifierTests {
    /// EfficientNet-Lite0 with its late body unfrozen, two ranks × 8 against one process × 16, every layer in
    /// eval mode (dropout, stochastic depth and batch statistics draw per rank, so only their distribution is
    /// the same). AdamW divides by the root of the squared gradient, which magnifies rounding where a gradient is
    /// near zero: a handful of weights may differ by more, all but 1 in 1,000 agree within 1e-4.
    @Test func unfrozenClassifierOnTwoRanksEqualsOneProcess() throws {
        let x = try patternInput(batch: 32, size: 64).contiguous(.channelsLast)
        let y = try Tensor((0..<32).map { Int64($0 % 2) })
        var classifiers: [Classifier] = []
        for _ in 0..<3 {
            Torch.manualSeed(3)
            classifiers.append(try Classifier(.efficientNetLite0, classes: ["a", "b"]))
        }
        let start = try classifiers[2].parameters.flatMap { try $0.detached().flattened().toArray(Float.self) }
        @Sendable func train(_ classifier: Classifier, _ source: BatchSource, _ extra: [Callback]) throws -> [Float] {
            let learner = try Learner(classifier, train: source, valid: nil)
            learner.verbose = false
            learner.trainFrozenBatchNorm = false
            learner.updateBodyBatchNormStatistics = false
            try learner.freeze(upTo: 1)
            learner.callbacks += [EvalMode()] + extra
            try learner.fit(epochs: 1, rates: [1e-4, 1e-3, 5e-3])
            return try classifier.parameters.flatMap { try $0.detached().flattened().toArray(Float.self) }
        }
        let single = try train(classifiers[2], FeatureBatches(features: x, labels: y, batchSize: 16, seed: 5), [])
        let shared = Classifiers(classifiers)
        let port = try Ranks.freePort()
        let ranks = try Ranks.run(2) { rank -> [Float] in
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 60, backend: .gloo)
            let global = FeatureBatches(features: x, labels: y, batchSize: 16, seed: 5)
            return try train(
                shared.list[rank], RankShard(global, rank: rank, worldSize: 2), [DataParallel(group: group)])
        }
        #expect(ranks[0] == ranks[1])
        let apart = zip(ranks[0], single).map { abs($0 - $1) }.sorted()
        #expect(apart[apart.count * 999 / 1000] < 1e-4, "p99.9 \(apart[apart.count * 999 / 1000])")
        #expect((apart.last ?? .infinity) < 1e-2)
        // The late body and the head trained: a tenth of the weights moved by more than 1e-4.
        let moved = zip(start, single).filter { abs($0 - $1) > 1e-4 }.count
        #expect(moved > start.count / 10, "\(moved) of \(start.count) moved")
    }
}

/// Keeps every layer in eval mode while training (no dropout, stochastic depth or batch statistics).
final class EvalMode: Callback {
    func beforeBatch(_ learner: Learner) throws { learner.model.eval() }
}

/// The ranks' classifiers, handed to their threads (each thread touches only its own).
final class Classifiers: @unchecked Sendable {
    let list: [Classifier]
    init(_ list: [Classifier]) { self.list = list }
}
