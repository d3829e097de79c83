import Foundation
import Learn
import NN
import TestSupport
import Testing
import Torch

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
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 30)
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
