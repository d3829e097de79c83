import Testing
import Workflow

@Suite struct PredictionShardsTests {
    /// Shards tile the listing exactly, sizes within one, for any count; absurd counts are refused, not trapped on.
    @Test func shardsTileTheListingAndHugeCountsAreRefused() {
        for total in [0, 1, 7, 100, 1_001] {
            for count in [1, 2, 3, 7, 64] {
                let ranges = (1...count).map { PredictionShards.Shard(index: $0, count: count).range(of: total) }
                #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == total)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
                let sizes = ranges.map(\.count)
                #expect((sizes.max() ?? 0) - (sizes.min() ?? 0) <= 1, "\(total)/\(count): \(sizes)")
            }
        }
        #expect(PredictionShards.Shard("9223372036854775807/9223372036854775807") == nil)
        #expect(PredictionShards.Shard("0/0") == nil && PredictionShards.Shard("2/1") == nil)
        #expect(PredictionShards.Shard("3/1000000") == PredictionShards.Shard(index: 3, count: 1_000_000))
        // A listing near Int.max does not overflow the block arithmetic.
        let big = PredictionShards.Shard(index: 999_999, count: 1_000_000).range(of: Int.max)
        #expect(big.upperBound > big.lowerBound && big.upperBound < Int.max)
    }
}
