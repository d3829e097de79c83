import Foundation
import Torch

/// Photos that are copies of each other: byte for byte (exact), or resized, recompressed, cropped a little or made
/// brighter (near). Two photos are near copies when the cosine similarity of their ``Thumbprint``s, centred on the
/// data set's mean photo, reaches ``threshold`` for the whole views or for one whole and one cropped view. Photos
/// of one kind (solar cells, one camera's background) share most of their look; centring leaves what tells them
/// apart. The similarities are computed as blocks of a matrix product (BLAS), a block of rows at a time.
public enum NearDuplicates {
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
        for (i, j, _) in try pairs(thumbprints, nil, mean: mean, threshold: threshold) {
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

    /// For each of `queries`, the index of the photo in `reference` it is most like among those it is a copy of
    /// (nil: none), centred on the reference's mean.
    public static func matches(
        of queries: [PhotoPrint?], in reference: [PhotoPrint?], threshold: Double = threshold
    ) throws -> [Int?] {
        var match = [(index: Int, similarity: Float)?](repeating: nil, count: queries.count)
        let (q, r) = (queries.indices.filter { queries[$0] != nil }, reference.indices.filter { reference[$0] != nil })
        let (qt, rt) = (q.compactMap { queries[$0]?.thumbprint }, r.compactMap { reference[$0]?.thumbprint })
        for (i, j, s) in try pairs(qt, rt, mean: meanWhole(rt), threshold: threshold)
        where s > match[q[i]]?.similarity ?? -1 {
            match[q[i]] = (r[j], s)
        }
        var contents: [UInt64: Int] = [:]
        for i in r { if let c = reference[i]?.content, contents[c] == nil { contents[c] = i } }
        for i in q { if let c = queries[i]?.content, let same = contents[c] { match[i] = (same, 1) } }
        return match.map { $0?.index }
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
                var row = (0..<d).map { print.values[v * d + $0] - mean[$0] }
                let norm = row.reduce(0) { $0 + $1 * $1 }.squareRoot()
                if norm > 1e-6 { row = row.map { $0 / norm } }
                if v == 0 { whole += row } else { cropped += row }
            }
        }
        return (
            try Tensor(whole, shape: [prints.count, d]), try Tensor(cropped, shape: [prints.count * (views - 1), d])
        )
    }

    /// Pairs (i of `a`, j of `b`) whose similarity reaches `threshold`, with it; with `b` nil, pairs i < j of `a`.
    static func pairs(
        _ a: [Thumbprint], _ b: [Thumbprint]?, mean: [Float], threshold: Double, block: Int = 512
    ) throws -> [(Int, Int, Float)] {
        guard !a.isEmpty, !(b?.isEmpty ?? false) else { return [] }
        let left = try unitRows(a, mean: mean), right = try b.map { try unitRows($0, mean: mean) } ?? left
        let n = right.whole.shape[0], crops = Thumbprint.viewCount - 1
        let (rightWhole, rightCropped) = (try right.whole.transposed(0, 1), try right.cropped.transposed(0, 1))
        var found: [(Int, Int, Float)] = []
        var start = 0
        while start < a.count {
            let rows = min(block, a.count - start)
            let whole = try left.whole.narrowed(dim: 0, start..<(start + rows))
            let cropped = try left.cropped.narrowed(dim: 0, (start * crops)..<((start + rows) * crops))
            // rows × n × 9: whole·whole, whole·each cropped view, each cropped view·whole; the best of them.
            let similarity = try Tensor.cat(
                [
                    whole.matmul(rightWhole).unsqueezed(2),
                    whole.matmul(rightCropped).reshaped([rows, n, crops]),
                    cropped.matmul(rightWhole).reshaped([rows, crops, n]).permuted([0, 2, 1]),
                ], dim: 2
            ).max([2]).contiguous().toArray(Float.self)
            let limit = Float(threshold)
            for r in 0..<rows {
                let i = start + r
                for j in (b == nil ? i + 1 : 0)..<n where similarity[r * n + j] >= limit {
                    found.append((i, j, similarity[r * n + j]))
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
