import Foundation
import Torch

/// Data-parallel training over a ``ProcessGroup``, as DistributedDataParallel does it: every rank holds the
/// whole model, trains on its own slice of each global batch, and the gradients are averaged over the ranks
/// after each backward pass, so every rank takes the same step. With the same seeds and data order, N ranks with
/// batch B end with the weights one process gets with batch N·B.
///
/// Before the first epoch rank 0's parameters and buffers are broadcast, so the ranks start equal. The gradients
/// travel as one flat bucket per step (one collective, not one per tensor). BatchNorm layers that update their
/// statistics see only their rank's slice in a step (as DDP without SyncBatchNorm); their running statistics are
/// averaged over the ranks after every epoch. The recipe's unfrozen phase keeps the body's fixed.
///
/// Stopping early must happen after the same step on every rank, or one rank would wait for the others'
/// gradients forever: each rank's ``wantsToStop`` answer (Ctrl-C) travels in the gradient bucket, and
/// ``stopAgreed`` turns true on every rank after the step in which any rank wanted to stop.
public final class DataParallel: Callback {
    public let group: ProcessGroup
    /// Asked after every backward pass: does this rank want the fit to end?
    public var wantsToStop: () -> Bool = { false }
    /// True on every rank once any rank wanted to stop.
    public private(set) var stopAgreed = false
    private var checkedSizes = false

    public init(group: ProcessGroup) { self.group = group }

    public func beforeFit(_ learner: Learner) throws {
        checkedSizes = false
        learner.randomStream = UInt64(group.rank)
        try Torch.withoutGrad {
            try group.broadcast(learner.model.parameters + learner.model.namedBuffers().map(\.tensor), from: 0)
        }
    }

    /// BatchNorm running statistics that changed in training are averaged over the ranks after each epoch's
    /// training, so every rank validates, and rank 0 saves, the same model.
    public func afterTrain(_ learner: Learner) throws {
        try Torch.withoutGrad {
            let statistics = learner.model.namedBuffers().map(\.tensor).filter { $0.dtype == .float32 }
            guard !statistics.isEmpty else { return }
            try group.allReduceSum(statistics)
            for s in statistics { try s.copyInPlace(from: s / Double(group.worldSize)) }
        }
    }

    public func afterBackward(_ learner: Learner) throws {
        try Torch.withoutGrad {
            let gradients = try learner.model.parameters.compactMap { try $0.grad }
            guard !gradients.isEmpty else { return }
            if !checkedSizes {
                // Once per fit: every rank must send a bucket of the same layout, or the sums are garbage.
                let total = gradients.reduce(0) { $0 + $1.count }
                let sizes = try Tensor([Int64(total), 1])
                try group.allReduceSum([sizes])
                let summed = try sizes.toArray(Int64.self)
                guard summed[0] == Int64(total) * summed[1] else {
                    throw LearnError(
                        "data-parallel: rank \(group.rank) has \(total) gradient values, the ranks \(summed[0]) in all")
                }
                checkedSizes = true
            }
            let vote = try Tensor([Float(wantsToStop() ? 1 : 0)])
            let bucket = try Tensor.cat(gradients.map { try $0.to(.float32).flattened() } + [vote])
            try group.allReduceSum([bucket])
            if try bucket.narrowed(dim: 0, (bucket.count - 1)..<bucket.count).item() > 0 { stopAgreed = true }
            let mean = try bucket / Double(group.worldSize)
            var offset = 0
            for g in gradients {
                let n = g.count
                try g.copyInPlace(from: mean.narrowed(dim: 0, offset..<(offset + n)).reshaped(g.shape))
                offset += n
            }
        }
    }
}

/// One rank's part of a batch source: each batch of `source` (the global batch) cut into `worldSize` equal
/// slices, this rank's kept. The global batch size must be divisible by the world size for the averaged
/// gradient to equal the single-process one exactly.
public final class RankShard: BatchSource {
    public let source: BatchSource
    public let rank: Int, worldSize: Int

    public init(_ source: BatchSource, rank: Int, worldSize: Int) {
        (self.source, self.rank, self.worldSize) = (source, rank, worldSize)
    }

    public var batchCount: Int { source.batchCount }

    public func batches(for epoch: Int) -> AnySequence<(inputs: Tensor, targets: Tensor)> {
        let (rank, world) = (rank, worldSize)
        return AnySequence(
            source.batches(for: epoch).lazy.compactMap { batch in
                let n = batch.inputs.shape[0]
                let range = (n * rank / world)..<(n * (rank + 1) / world)
                // A slice that cannot be cut is a libtorch failure (out of memory): leave the batch out.
                guard !range.isEmpty, let x = try? batch.inputs.narrowed(dim: 0, range),
                    let y = try? batch.targets.narrowed(dim: 0, range)
                else { return nil }
                return (x, y)
            })
    }
}
