import Foundation
import Synchronization
import Torch

/// A batch ready for the model: normalised float images (channels-last), labels and which items they are.
public struct Batch: @unchecked Sendable {
    public var images: Tensor
    /// int64 class indices, float 0/1 per label (N × C) for multi-label data, or nil for unlabelled data.
    public var labels: Tensor?
    /// Positions in the loader's dataset.
    public var indices: [Int]
}

/// Turns a data set into batches: presized images, an item crop, batch augmentation and
/// normalisation, prepared by worker threads ahead of the consumer.
///
/// Shuffling, crops and augmentation are drawn from generators seeded by (seed, epoch, batch),
/// so the same seed gives the same batches whatever the thread timing. Images that cannot be
/// decoded are left out of their batch and listed in ``skipped``; the run goes on.
public final class DataLoader: @unchecked Sendable {
    public let dataset: ImageDataset
    public let size: Int
    public let batchSize: Int
    public let shuffle: Bool
    public let dropLast: Bool
    public var augmentation: Augmentation?
    public let normalization: Normalization
    public let cache: PresizeCache?
    public let seed: UInt64
    public var workers = 2
    public var prefetch = 3
    /// Whether the workers build batches while the consumer computes (nil: on a GPU, whose step leaves the cores
    /// free). On the CPU libtorch's threads use every core, and a worker that takes one stalls the step at each
    /// layer's barrier (a 2-core Zen 4: three Lite0 epochs of the demo took 59, 54 and 53 s with the batches built
    /// alongside, 51, 45 and 47 s in a run that built them before each epoch). Off, the workers build only while
    /// the consumer waits for a batch: that one and, on the other workers, the ones after it.
    public var buildsAhead: Bool?
    /// The batch of a pass that sees every photo once (validation, TTA, prediction, precomputing). Not 64: Lite0's
    /// 256 px feature maps then page-faulted on every batch while glibc's trim threshold was 1 GiB (a fifth of the
    /// process in the kernel; a training run's TTA ran at 76 img/s where `predict`, at 32, ran 161), and with 2 GiB
    /// kept (``Torch/keepFreedMemory()``) 32 is still a little faster (`bench inference` fp32: 165–175 img/s against
    /// 162 at 64; AMD EPYC family 26 model 2, 2 cores).
    public static let evaluationBatchSize = 32
    /// A class-balanced epoch: as many images as the data set has, drawn with replacement, every class equally
    /// likely (rare classes are seen as often as common ones, some images of the common ones not at all). Only
    /// for a shuffling loader over labelled data; precompute and prediction see every image once.
    public var balanced = false
    /// How each photo becomes the square input (crop, squish or pad).
    public var resize = ResizeMethod.crop
    /// This rank's part of every batch in data-parallel training: of each batch of n images, the ones from
    /// position n·rank/count up to n·(rank+1)/count, so that the ranks' parts together are the one-process batch.
    /// Augmentation draws from a stream of its own per rank. Nil (the default): whole batches.
    public var shard: (rank: Int, count: Int)?
    /// Images left out because they could not be read (each reported once).
    public let skipped = ProblemList()
    private var skippedPaths = Set<String>()
    private let lock = NSLock()

    public init(
        _ dataset: ImageDataset, size: Int, batchSize: Int = 32, shuffle: Bool = false, dropLast: Bool = false,
        augmentation: Augmentation? = nil, normalization: Normalization, cache: PresizeCache? = nil, seed: UInt64 = 42
    ) {
        self.dataset = dataset
        self.size = size
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.augmentation = augmentation
        self.normalization = normalization
        self.cache = cache
        self.seed = seed
    }

    /// Item positions of each batch of `epoch`.
    public func batchIndices(epoch: Int) -> [[Int]] {
        let n = dataset.items.count
        var order = Array(0..<n)
        if shuffle {
            var rng = SeededRandom(seed: seed, stream: UInt64(epoch) &* 7919 &+ 1)
            // The labels are read only for a balanced draw (and every image must have one).
            let labels = balanced ? dataset.items.compactMap(\.label) : []
            order = balanced && labels.count == n ? rng.balancedDraw(labels: labels, count: n) : rng.permutation(n)
        }
        var batches = stride(from: 0, to: n, by: batchSize).map { Array(order[$0..<min($0 + batchSize, n)]) }
        if dropLast, let last = batches.last, last.count < batchSize { batches.removeLast() }
        // A shuffled (training) epoch never ends on a batch that leaves a rank one image: BatchNorm in training
        // mode cannot take a variance of one value (its running variance turns NaN).
        let smallest = 2 * (shard?.count ?? 1)
        if shuffle, batches.count > 1, let last = batches.last, last.count < smallest { batches.removeLast() }
        guard let (rank, count) = shard else { return batches }
        return batches.map { Array($0[($0.count * rank / count)..<($0.count * (rank + 1) / count)]) }
    }

    public var batchCount: Int { batchIndices(epoch: 0).count }

    /// Builds one batch now (on the calling thread). Returns nil when none of its images could be read.
    /// `view` selects an independent random stream (test-time augmentation uses one per view).
    public func makeBatch(_ indices: [Int], epoch: Int, batch: Int, view: Int = 0) throws -> Batch? {
        var random: SeededRandom? =
            augmentation == nil
            ? nil
            : SeededRandom(
                seed: seed,
                stream: (UInt64(epoch) << 32) ^ (UInt64(batch) << 8) ^ UInt64(view) ^ 0xA5A5
                    ^ (UInt64(shard?.rank ?? 0) << 56))
        let transform = ItemTransform(size: size, method: resize)
        var planes: [Float] = []
        var kept: [Int] = []
        planes.reserveCapacity(indices.count * 3 * size * size)
        for i in indices {
            let item = dataset.items[i]
            do {
                let image = try cache?.image(for: item.url) ?? ImageDecoder(minimumSide: size).decode(item.url)
                planes += transform.apply(image, random: &random)
                kept.append(i)
            } catch {
                recordSkip(item, error)
            }
        }
        guard !kept.isEmpty else { return nil }
        var images = try Tensor(planes, shape: [kept.count, 3, size, size])
        if let augmentation, var rng = random { images = try augmentation.apply(images, random: &rng) }
        images = try normalization.apply(images).contiguous(.channelsLast)
        // A data set is labelled throughout or not at all (DataSource makes it so): a batch has labels for
        // every image or none.
        return Batch(images: images, labels: try targets(kept), indices: kept)
    }

    /// The batch's targets: int64 class indices (N), or for multi-label data float 0/1 per label (N × C); nil when
    /// the photos have no labels.
    private func targets(_ kept: [Int]) throws -> Tensor? {
        if dataset.isMultiLabel {
            guard kept.allSatisfy({ dataset.items[$0].labelSet != nil }) else { return nil }
            let rows = dataset.indicators(kept)
            return try Tensor(
                rows.flatMap { $0.map { $0 ? Float(1) : 0 } }, shape: [kept.count, dataset.classes.count])
        }
        let known = kept.compactMap { dataset.items[$0].label.map(Int64.init) }
        return known.count == kept.count ? try Tensor(known) : nil
    }

    private func recordSkip(_ item: ImageItem, _ error: Error) {
        lock.lock()
        let fresh = skippedPaths.insert(item.url.path).inserted
        lock.unlock()
        if fresh { skipped.append(.unreadable(item.url, error)) }
    }

    /// The batches of `epoch`, prepared by ``workers`` threads at most ``prefetch`` batches ahead (see
    /// ``buildsAhead``).
    public func batches(epoch: Int, view: Int = 0) -> BatchStream {
        BatchStream(loader: self, plan: batchIndices(epoch: epoch), epoch: epoch, view: view)
    }
}

/// Batches in order, built ahead on worker threads. Dropping the stream (for example when a fit
/// is cancelled mid-epoch, or an error ends the command) stops its workers and waits for them: they hold only
/// the shared ``Buffer``, never the stream, and none is still inside libtorch when the process exits (a worker
/// alive during `exit` corrupted the heap, issue 12).
public final class BatchStream: Sequence, IteratorProtocol, @unchecked Sendable {
    /// What the workers and the consumer share.
    final class Buffer: @unchecked Sendable {
        let loader: DataLoader
        let plan: [[Int]]
        let epoch: Int, view: Int
        var ready: [Int: Result<Batch?, Error>] = [:]
        var nextToHand = 0
        var nextToBuild = 0
        var cancelled = false
        /// Build while the consumer computes, or only while it waits (``DataLoader/buildsAhead``).
        let buildsAhead: Bool
        var consumerWaiting = false
        /// Whether a worker may start a batch now: room in the prefetch, and building ahead or the consumer still
        /// waiting for its batch (once that batch is ready the consumer is about to step, even before it wakes).
        var mayBuild: Bool {
            nextToBuild - nextToHand < loader.prefetch && (buildsAhead || (consumerWaiting && ready[nextToHand] == nil))
        }
        /// Workers that have not returned yet.
        var running = 0
        let condition = NSCondition()

        init(loader: DataLoader, plan: [[Int]], epoch: Int, view: Int) {
            buildsAhead = loader.buildsAhead ?? Torch.defaultDevice.isCUDA
            self.loader = loader
            self.plan = plan
            self.epoch = epoch
            self.view = view
        }

        func work() {
            // One libtorch thread per worker: otherwise each worker starts its own OpenMP team, and on a
            // machine with few cores the spinning teams starve the training thread's (measured: 2× slower).
            Torch.threads = 1
            BatchStream.alive.add(1, ordering: .relaxed)
            defer {
                BatchStream.alive.subtract(1, ordering: .relaxed)
                condition.lock()
                running -= 1
                condition.broadcast()
                condition.unlock()
            }
            while true {
                condition.lock()
                while !cancelled, nextToBuild < plan.count, !mayBuild { condition.wait() }
                if cancelled || nextToBuild >= plan.count {
                    condition.unlock()
                    return
                }
                let index = nextToBuild
                nextToBuild += 1
                condition.unlock()
                let result = Result { try loader.makeBatch(plan[index], epoch: epoch, batch: index, view: view) }
                condition.lock()
                ready[index] = result
                condition.broadcast()
                condition.unlock()
            }
        }
    }

    private let buffer: Buffer
    private static let alive = Atomic(0)
    /// Worker threads of all streams that have not returned yet (0 once every stream is dropped).
    public static var workersAlive: Int { alive.load(ordering: .relaxed) }

    init(loader: DataLoader, plan: [[Int]], epoch: Int, view: Int) {
        let buffer = Buffer(loader: loader, plan: plan, epoch: epoch, view: view)
        self.buffer = buffer
        let workers = Swift.max(1, loader.workers)
        buffer.running = workers
        for _ in 0..<workers {
            Thread.detachNewThread { buffer.work() }
        }
    }

    /// Cancels the workers and waits until each has returned (at most the batch it is building).
    deinit {
        buffer.condition.lock()
        buffer.cancelled = true
        buffer.ready = [:]
        buffer.condition.broadcast()
        while buffer.running > 0 { buffer.condition.wait() }
        buffer.condition.unlock()
    }

    public var count: Int { buffer.plan.count }

    /// The next batch; batches whose images all failed are passed over. A libtorch error is reported and skipped.
    public func next() -> Batch? {
        let b = buffer
        while true {
            b.condition.lock()
            guard b.nextToHand < b.plan.count else {
                b.condition.unlock()
                return nil
            }
            if b.ready[b.nextToHand] == nil {
                b.consumerWaiting = true
                b.condition.broadcast()
                while b.ready[b.nextToHand] == nil { b.condition.wait() }
                b.consumerWaiting = false
            }
            let result = b.ready.removeValue(forKey: b.nextToHand)
            b.nextToHand += 1
            b.condition.broadcast()
            b.condition.unlock()
            switch result {
            case .success(let batch?)?: return batch
            case .failure(let error)?:
                b.loader.skipped.append(
                    DataProblem(.corruptImage, path: "batch \(b.nextToHand - 1)", "could not be built: \(error)"))
            default: continue
            }
        }
    }
}
