import Foundation
import NN
import Torch
import Vision

/// Pooled body activations of un-augmented images, computed once (fastai 0.7's `precompute=True`),
/// so the head can train on them in well under a second per epoch.
public final class FeatureBatches: BatchSource {
    public let features: Tensor
    public let labels: Tensor
    public let batchSize: Int
    public let shuffle: Bool
    public let seed: UInt64
    /// Class-balanced epochs, as ``DataLoader/balanced``.
    public var balanced = false

    public init(features: Tensor, labels: Tensor, batchSize: Int = 64, shuffle: Bool = true, seed: UInt64 = 42) {
        self.features = features
        self.labels = labels
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
    }

    public var batchCount: Int { (features.shape[0] + batchSize - 1) / batchSize }

    public func batches(for epoch: Int) -> AnySequence<(inputs: Tensor, targets: Tensor)> {
        let n = features.shape[0]
        var order = Array(0..<n)
        if shuffle {
            var rng = SeededRandom(seed: seed, stream: UInt64(epoch) &+ 0xFEA7)
            // Labels that cannot be read back are a libtorch failure: the epoch is then simply not balanced.
            let classes = balanced ? (try? labels.toArray(Int64.self).map(Int.init)) : nil
            order = classes.map { rng.balancedDraw(labels: $0, count: n) } ?? rng.permutation(n)
        }
        let chunks = stride(from: 0, to: n, by: batchSize).map { Array(order[$0..<min($0 + batchSize, n)]) }
        return AnySequence(
            chunks.lazy.map { [features, labels] idx in
                // The indices are in range by construction, so only a libtorch failure (out of memory) lands here:
                // stop loudly rather than train on fewer batches than the epoch has.
                do {
                    let index = try Tensor(idx.map(Int64.init))
                    return (try features.indexSelect(dim: 0, index), try labels.indexSelect(dim: 0, index))
                } catch {
                    fatalError("cannot gather a batch of precomputed features: \(error)")
                }
            })
    }
}

extension Classifier {
    /// The head's layers after pooling and flattening (what trains on precomputed features).
    public var headAfterPooling: Sequential {
        Sequential(head.children.dropFirst(2).map(\.module))
    }

    /// Body activations pooled as the head pools them (N × 2·width for the fastai head).
    public func pooledFeatures(_ x: Tensor) throws -> Tensor {
        var y = try features(x)
        for (_, layer) in head.children.prefix(2) { y = try layer(y) }
        return y
    }

    /// The logits (what calling the classifier gives) and, from the same pass through the body, its pooled features
    /// (``pooledFeatures(_:)``): for the distance to the training photos beside a prediction.
    public func logitsAndPooledFeatures(_ x: Tensor) throws -> (logits: Tensor, pooled: Tensor) {
        let pooled = try pooledFeatures(x)
        return (try headAfterPooling(pooled), pooled)
    }

    /// Where precomputed features are cached under `key`.
    public static func featureCacheFile(_ key: String) -> URL {
        QuadratPaths.home.appendingPathComponent("features/\(key).safetensors")
    }

    /// Pooled features of every image of `loader` (eval mode, no augmentation), with labels,
    /// cached on disk under `cacheKey` when given. With a `view` (one fixed transform, such as
    /// ``Augmentation/symmetry(_:)``), the features are those of every image seen that way.
    /// With `mixedPrecision`, the body runs under bfloat16 autocast, as it does in mixed-precision training.
    /// With a `group`, every rank computes the part of each batch its sharded loader gives (``DataLoader/shard``)
    /// and the parts are joined, so every rank ends with all the features (in rank order, not the loader's); the
    /// cache is used only when every rank has it.
    public func precompute(
        _ loader: DataLoader, cacheKey: String? = nil, label: String = "precompute", mixedPrecision: Bool = false,
        group: ProcessGroup? = nil, view: Augmentation? = nil
    ) throws -> (features: Tensor, labels: Tensor) {
        let file = cacheKey.map(Self.featureCacheFile)
        // A cache file that is missing, half written or unreadable is a cache miss: compute afresh.
        var cached: (Tensor, Tensor)?
        if let file, let tensors = try? Safetensors.read(file).tensors, let f = tensors["features"],
            let l = tensors["labels"]
        {
            cached = (f, l)
        }
        let everywhere = try group.map { try $0.count(cached != nil) == $0.worldSize } ?? true
        if let cached, everywhere { return cached }
        let wasTraining = isTraining
        eval()
        defer { if wasTraining { train() } }
        // Every image once, as it is (or in the one view asked for): no augmentation, no class-balanced draw.
        let (augmentation, balanced) = (loader.augmentation, loader.balanced)
        (loader.augmentation, loader.balanced) = (view, false)
        defer { (loader.augmentation, loader.balanced) = (augmentation, balanced) }
        var features: [Tensor] = [], labels: [Tensor] = [], kept: [Int] = []
        let progress = Feedback.start(label, total: loader.batchIndices(epoch: 0).map(\.count).reduce(0, +))
        try Torch.inferenceMode {
            for batch in loader.batches(epoch: 0) {
                let pooled =
                    try mixedPrecision
                    ? Torch.withAutocast { try pooledFeatures(batch.images) } : pooledFeatures(batch.images)
                features.append(try pooled.to(.float32).contiguous())
                if let l = batch.labels { labels.append(l) }
                kept += batch.indices
                progress.advance(by: batch.indices.count)
            }
        }
        guard !features.isEmpty else { throw LearnError("no images could be read for precomputing") }
        // Leave inference mode: clone into normal tensors that autograd may use.
        var f = try Tensor.cat(features).clone(), l = try Tensor.cat(labels).clone()
        if let group { (f, l) = try Self.join(f, l, kept: kept, of: loader, group: group) }
        if let file {
            do {
                try FileManager.default.createDirectory(
                    at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
                try Safetensors.write(["features": f, "labels": l], to: file)
            } catch {
                // The cache only saves time: the run goes on, and the next one computes the features again.
                Feedback.log(
                    "note: the feature cache \(file.path) could not be written (\(error)); continuing without it")
            }
        }
        return (f, l)
    }

    /// Every rank's features and labels, in the order one process computes them (the unsharded loader's).
    static func join(
        _ features: Tensor, _ labels: Tensor, kept: [Int], of loader: DataLoader, group: ProcessGroup
    ) throws -> (Tensor, Tensor) {
        let items = try group.gatherRows(Tensor(kept.map(Int64.init))).toArray(Int64.self).map(Int.init)
        let shard = loader.shard
        loader.shard = nil
        let order = loader.batchIndices(epoch: 0).joined()
        loader.shard = shard
        var position: [Int: Int] = [:]
        for (p, item) in order.enumerated() { position[item] = p }
        let rows = items.indices.sorted { position[items[$0], default: 0] < position[items[$1], default: 0] }
        return (
            try group.gatherRows(features).indexSelect(dim: 0, rows),
            try group.gatherRows(labels).indexSelect(dim: 0, rows)
        )
    }
}
