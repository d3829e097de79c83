import Foundation
import Learn
import TestSupport
import Testing
import Torch
import Vision

/// The learner's batch sources stream: the first batch is handed over while the loader is still building the ones
/// after it. Until 2026-12-06 `DataLoader`'s source built the whole epoch before handing out its first batch (Swift
/// picked the eager `compactMap` over the lazy one): every epoch of the ELPV demo waited about 4 s for it, and held
/// all its batches at once (1.3 GB at 256 px; a set of 50,000 photos would not fit in memory).
@Suite("Batch sources stream")
struct BatchSourceTests {
    /// Ten photos in five batches of two, in order; the last photo cannot be read, so building the last batch
    /// records a skipped photo: whether it was built is visible.
    func loader() throws -> DataLoader {
        let root = try makeKaggleDataSet(trainCount: 10, testCount: 1)
        let data = try DataSource.labelled(root)
        let last = try #require(data.items.last?.url)
        try Data().write(to: last)  // zero bytes
        let loader = DataLoader(data, size: 32, batchSize: 2, shuffle: false, normalization: .imageNet, seed: 1)
        (loader.workers, loader.prefetch) = (1, 1)
        return loader
    }

    @Test func theLoaderHandsItsFirstBatchBeforeBuildingItsLast() throws {
        let loader = try loader()
        let batches = loader.batches(for: 0)
        let iterator = batches.makeIterator()
        #expect(iterator.next() != nil)
        #expect(loader.skipped.all.isEmpty, "the last batch was built before the first was handed over")
        var rest = 0
        while iterator.next() != nil { rest += 1 }
        #expect(rest == 4 && loader.skipped.all.count == 1)
    }

    @Test func aRankShardStreamsToo() throws {
        let loader = try loader()
        let iterator = RankShard(loader, rank: 1, worldSize: 2).batches(for: 0).makeIterator()
        let first = try #require(iterator.next())
        #expect(first.inputs.shape[0] == 1)
        #expect(loader.skipped.all.isEmpty, "the last batch was built before the first was handed over")
    }

    /// On the CPU the workers build only while the training loop waits for a batch, never beside its step (which
    /// uses every core); told to build ahead (a GPU's step leaves the cores free), they fill the prefetch.
    @Test(arguments: [false, true])
    func workersBuildAheadOnlyWhenTold(buildsAhead: Bool) throws {
        let loader = try loader()
        (loader.prefetch, loader.buildsAhead) = (5, buildsAhead)
        let iterator = loader.batches(for: 0).makeIterator()
        #expect(iterator.next() != nil)
        // Time for a worker to build the four batches after the first (tiny photos: milliseconds each).
        var waited = 0
        while loader.skipped.all.isEmpty && waited < 50 {
            Thread.sleep(forTimeInterval: 0.02)
            waited += 1
        }
        #expect(loader.skipped.all.isEmpty == !buildsAhead, "the last batch built: \(!loader.skipped.all.isEmpty)")
    }
}
