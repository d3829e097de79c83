import Foundation
import Torch

/// Which unlabelled photos to label next: the ones the model is least sure of, spread over feature space so that a
/// batch is not fifty near-copies of one doubtful photo.
///
/// Each batch takes the `widening`·`batch` photos of smallest margin (the gap between the two most probable classes,
/// or for multi-label data the closest any label comes to 0.5) and picks `batch` of them by k-center greedy (Sener &
/// Savarese 2018): again and again the candidate farthest (cosine distance of pooled features) from every photo
/// labelled or chosen so far. This is the "margin, then diversity" hybrid of active-learning practice.
public enum ReviewSelection {
    /// The pool (`pool`, row indices of `features`) in the order to label it: batch after batch as described above,
    /// each batch kept apart from the `labelled` rows and the batches before. Only the first `limit` are ordered with
    /// care; the rest follow by uncertainty alone.
    public static func order(
        pool: [Int], uncertainty: [Double], features: Tensor, labelled: [Int], batch: Int = 50, widening: Int = 4,
        limit: Int = 2000
    ) throws -> [Int] {
        guard !pool.isEmpty else { return [] }
        let unit = try normalizedRows(features)
        var remaining = pool.sorted { (uncertainty[$0], -$0) > (uncertainty[$1], -$1) }
        var centres = labelled
        var ordered: [Int] = []
        while !remaining.isEmpty, ordered.count < limit {
            let candidates = Array(remaining.prefix(max(batch, batch * widening)))
            let picked = try kCenterGreedy(unit: unit, candidates: candidates, centres: centres, count: batch)
            ordered += picked
            centres += picked
            let chosen = Set(picked)
            remaining.removeAll { chosen.contains($0) }
        }
        return ordered + remaining
    }

    /// `count` of `candidates` chosen one at a time, each the farthest from `centres` and the ones chosen before it
    /// (cosine distance of the unit-length rows of `unit`). With no centres, the first pick is the first candidate.
    public static func kCenterGreedy(unit: Tensor, candidates: [Int], centres: [Int], count: Int) throws -> [Int] {
        guard count < candidates.count else { return candidates }
        let c = try unit.indexSelect(dim: 0, candidates)
        func similarity(to k: Int) throws -> [Double] {
            try c.matmul(c.indexSelect(dim: 0, [k]).transposed(0, 1)).reshaped([-1]).toArray(Double.self)
        }
        // The largest cosine similarity of each candidate to any centre: the smaller, the farther.
        var nearest: [Double]
        var picked: [Int] = [], taken = Set<Int>()
        if centres.isEmpty {
            // With nothing labelled yet, start from the most uncertain candidate.
            (picked, taken) = ([candidates[0]], [0])
            nearest = try similarity(to: 0)
        } else {
            nearest = try c.matmul(unit.indexSelect(dim: 0, centres).transposed(0, 1)).max([1]).toArray(Double.self)
        }
        while picked.count < count {
            let free = nearest.indices.filter { !taken.contains($0) }
            guard let best = free.min(by: { (nearest[$0], $0) < (nearest[$1], $1) }) else { break }
            taken.insert(best)
            picked.append(candidates[best])
            nearest = zip(nearest, try similarity(to: best)).map { max($0, $1) }
        }
        return picked
    }

    /// Each row divided by its length (float64), so that a matrix product gives cosine similarities.
    static func normalizedRows(_ x: Tensor) throws -> Tensor {
        let x = try x.to(.float64)
        let length = try (x * x).sum([1], keepDim: true).sqrt() + 1e-12
        return try x / length
    }
}
