import Foundation
import Torch

/// Photos that are copies of each other: byte for byte (exact), or resized, recompressed, cropped a little or made
/// brighter (near). Two photos are near copies when the cosine similarity of their ``Thumbprint``s, centred on the
/// data set's mean photo, reaches ``threshold`` for the whole views or for one whole and one cropped view. Photos
/// of one kind (solar cells, one camera's background) share most of their look; centring leaves what tells them
/// apart. The similarities are computed as blocks of a matrix product (BLAS), a block of rows at a time.
public enum NearDuplicates {
    /// How many of its most similar photos a photo links to: a pair links when each is among the other's three
    /// most similar (above the threshold). Without this, chains of look-alikes (cells of one kind, one site's
    /// background) join into clusters of hundreds; with it, 97 % of planted copies still cluster.
    public static let neighbours = 3

    /// A similarity at which two photos link whatever their neighbours: many near-identical frames (a burst of a still
    /// scene, one photo exported at several sizes) each have more than three such neighbours.
    public static let strongLink = 0.97

    /// The least centred similarity of copies. On planted copies of ELPV cells (resized to 60–90 %, recompressed at
    /// quality 40–75, cropped by up to 10 %, brightness ±20 %), 0.90 found 97 % of them: see docs/measurements.md.
    public static let threshold = 0.90

    /// Photos that are copies of each other, as indices into the prints.
    public struct Cluster: Sendable, Equatable {
        public var members: [Int]
        /// Every member has the same bytes.
        public var exact: Bool
    }

    /// The clusters of two or more photos among `prints` (nil: unreadable, never in a cluster), largest first.
    public static func clusters(_ prints: [PhotoPrint?], threshold: Double = threshold) throws -> [Cluster] {
        var sets = DisjointSets(count: prints.count)
        let readable = prints.indices.filter { prints[$0] != nil }
        let thumbprints = readable.compactMap { prints[$0]?.thumbprint }
        let mean = meanWhole(thumbprints)
        for (i, j) in mutualNeighbours(try pairs(thumbprints, nil, mean: mean, threshold: threshold)) {
            sets.join(readable[i], readable[j])
        }
        var firstWithContent: [UInt64: Int] = [:]
        for i in readable {
            guard let content = prints[i]?.content else { continue }
            if let first = firstWithContent[content] { sets.join(first, i) } else { firstWithContent[content] = i }
        }
        return sets.groups().filter { $0.count > 1 }.map { members in
            Cluster(members: members, exact: Set(members.compactMap { prints[$0]?.content }).count == 1)
        }.sorted { ($0.members.count, -$0.members[0]) > ($1.members.count, -$1.members[0]) }
    }

    /// For each of `queries`, the photos of `reference` in its cluster when the search runs on both sets together
    /// (empty: it is a copy of none).
    public static func matches(
        of queries: [PhotoPrint?], in reference: [PhotoPrint?], threshold: Double = threshold
    ) throws -> [[Int]] {
        var match = [[Int]](repeating: [], count: queries.count)
        for cluster in try clusters(reference + queries, threshold: threshold) {
            let here = cluster.members.filter { $0 < reference.count }
            for i in cluster.members where i >= reference.count { match[i - reference.count] = here }
        }
        return match
    }

    /// The pairs in which each photo is among the other's ``neighbours`` most similar.
    static func mutualNeighbours(_ pairs: [(Int, Int, Float)], keep k: Int = neighbours) -> [(Int, Int)] {
        var near: [Int: [(other: Int, similarity: Float)]] = [:]
        for (i, j, s) in pairs {
            near[i, default: []].append((j, s))
            near[j, default: []].append((i, s))
        }
        let top = near.mapValues {
            Set($0.sorted { ($0.similarity, -$0.other) > ($1.similarity, -$1.other) }.prefix(k).map(\.other))
        }
        return pairs.filter {
            Double($0.2) >= strongLink || (top[$0.0]?.contains($0.1) == true && top[$0.1]?.contains($0.0) == true)
        }.map { ($0.0, $0.1) }
    }

    /// The mean whole view of `prints` (zeros for none).
    static func meanWhole(_ prints: [Thumbprint]) -> [Float] {
        let d = Thumbprint.side * Thumbprint.side
        var mean = [Float](repeating: 0, count: d)
        for print in prints { for k in 0..<d { mean[k] += print.values[k] } }
        return mean.map { $0 / Float(max(prints.count, 1)) }
    }

    /// Every view less `mean`, scaled to unit length: the whole views (N × D) and the cropped ones (4N × D, photo
    /// i's at rows 4i … 4i + 3).
    static func unitRows(_ prints: [Thumbprint], mean: [Float]) throws -> (whole: Tensor, cropped: Tensor) {
        let d = mean.count, views = Thumbprint.viewCount
        var whole = [Float](), cropped = [Float]()
        whole.reserveCapacity(prints.count * d)
        cropped.reserveCapacity(prints.count * d * (views - 1))
        for print in prints {
            for v in 0..<views {
                // A flat view (all zeros: nothing to compare) stays zero, similar to nothing; centred, every flat
                // photo would be the same vector, a copy of every other.
                let flat = (0..<d).allSatisfy { print.values[v * d + $0] == 0 }
                var row = (0..<d).map { flat ? 0 : print.values[v * d + $0] - mean[$0] }
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if norm > 1e-6 { row = row.map { $0 / norm } }
                if v == 0 { whole += row } else { cropped += row }
            }
        }
        return (
            try Tensor(whole, shape: [prints.count, d]), try Tensor(cropped, shape: [prints.count * (views - 1), d])
        )
    }

    /// Pairs (i of `a`, j of `b`) whose similarity reaches `threshold`, with it; with `b` nil, pairs i < j of `a`
    /// (each block of rows compared with itself and the rows after it only).
    static func pairs(
        _ a: [Thumbprint], _ b: [Thumbprint]?, mean: [Float], threshold: Double, block: Int = 512
    ) throws -> [(Int, Int, Float)] {
        guard !a.isEmpty, !(b?.isEmpty ?? false) else { return [] }
        let left = try unitRows(a, mean: mean), right = try b.map { try unitRows($0, mean: mean) } ?? left
        let n = right.whole.shape[0], crops = Thumbprint.viewCount - 1
        let (rightWhole, rightCropped) = (try right.whole.transposed(0, 1), try right.cropped.transposed(0, 1))
        var found: [(Int, Int, Float)] = []
        let limit = Float(threshold)
        var start = 0
        while start < a.count {
            let rows = min(block, a.count - start)
            let columns = b == nil ? start..<n : 0..<n, m = columns.count
            let whole = try left.whole.narrowed(dim: 0, start..<(start + rows))
            let cropped = try left.cropped.narrowed(dim: 0, (start * crops)..<((start + rows) * crops))
            let otherWhole = try rightWhole.narrowed(dim: 1, columns)
            let otherCropped = try rightCropped.narrowed(
                dim: 1, (columns.lowerBound * crops)..<(columns.upperBound * crops))
            // whole·whole (rows × m), whole·each cropped view (rows × 4m), each cropped view·whole (4 rows × m).
            let ww = try whole.matmul(otherWhole).contiguous().toArray(Float.self)
            let wc = try whole.matmul(otherCropped).contiguous().toArray(Float.self)
            let cw = try cropped.matmul(otherWhole).contiguous().toArray(Float.self)
            for r in 0..<rows {
                let i = start + r
                for c in 0..<m {
                    let j = columns.lowerBound + c
                    if b == nil, j <= i { continue }
                    var best = ww[r * m + c]
                    for v in 0..<crops {
                        best = max(best, wc[r * m * crops + c * crops + v], cw[(r * crops + v) * m + c])
                    }
                    if best >= limit { found.append((i, j, best)) }
                }
            }
            start += rows
        }
        return found
    }
}

/// Union–find over `0..<count`: which elements have been joined, directly or through others.
public struct DisjointSets: Sendable {
    private var parent: [Int]

    public init(count: Int) { parent = Array(0..<count) }

    public mutating func root(_ i: Int) -> Int {
        var r = i
        while parent[r] != r { r = parent[r] }
        var j = i
        while parent[j] != r { (parent[j], j) = (r, parent[j]) }
        return r
    }

    public mutating func join(_ a: Int, _ b: Int) {
        let (ra, rb) = (root(a), root(b))
        if ra != rb { parent[max(ra, rb)] = min(ra, rb) }
    }

    /// Every set, each sorted, in the order of their smallest element.
    public mutating func groups() -> [[Int]] {
        var byRoot: [Int: [Int]] = [:]
        for i in parent.indices { byRoot[root(i), default: []].append(i) }
        return byRoot.values.sorted { $0[0] < $1[0] }
    }
}
