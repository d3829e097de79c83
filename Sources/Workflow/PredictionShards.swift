import Foundation
import Torch
import Vision

/// Prediction of a big folder in parts: `predict MODEL DIR --shard i/N` predicts the i-th of N contiguous blocks
/// of the folder's sorted listing and writes a part file (CSV: `index,name,file,p_<class>…`, the index being the
/// photo's place in the whole listing); `predict MODEL --merge PART…` joins the parts in the listing's order and
/// writes any output format. Parts can run on different machines.
///
/// What is promised: the merged file lists the same photos in the same order as one unsharded run, with the same
/// decisions, and probabilities within ``tolerance`` of it. Not byte for byte: another batch composition or thread
/// count (and another machine) picks other kernels, whose float sums round differently (the sixth decimal moved on
/// an AMD Zen 4). A decision can differ only for a photo whose probability lies within the tolerance of the
/// threshold.
public enum PredictionShards {
    /// The largest difference of one probability between a sharded (or data-parallel) and an unsharded prediction
    /// of the same photo by the same model in the same precision.
    public static let tolerance = 1e-4

    /// Shard `index` (1-based) of `count`, written `i/N`.
    public struct Shard: Sendable, Equatable {
        public var index: Int, count: Int

        public init(index: Int, count: Int) { (self.index, self.count) = (index, count) }

        /// The most parts a listing is split into: far more machines than anyone has, and small enough that the
        /// block arithmetic cannot overflow (`--shard 9223372036854775807/9223372036854775807` trapped).
        public static let maximumCount = 1_000_000

        /// Reads `i/N` with 1 ≤ i ≤ N ≤ ``maximumCount`` (nil otherwise).
        public init?(_ text: String) {
            let parts = text.split(separator: "/")
            guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), (1...Self.maximumCount).contains(n),
                (1...n).contains(i)
            else { return nil }
            (index, count) = (i, n)
        }

        /// The positions of this shard among `total` photos: contiguous, sizes differing by at most one. Computed
        /// wide, so that no listing size and shard count overflow.
        public func range(of total: Int) -> Range<Int> {
            func bound(_ k: Int) -> Int {
                let product = total.multipliedFullWidth(by: k)
                return Int(truncatingIfNeeded: count.dividingFullWidth((product.high, product.low)).quotient)
            }
            return bound(index - 1)..<bound(index)
        }
    }

    /// Every rank's predictions in the listing's order, on every rank: the rows and their positions in the whole
    /// listing, joined over the group (the positions of the returned rows are returned as the items).
    public static func gather(
        _ probabilities: [[Double]], positions: [Int], classes: Int, group: ProcessGroup
    ) throws -> (probabilities: [[Double]], positions: [Int]) {
        let rows = try group.gatherRows(Tensor(probabilities.flatMap { $0 }, shape: [probabilities.count, classes]))
        let places = try group.gatherRows(Tensor(positions.map(Int64.init))).toArray(Int64.self).map(Int.init)
        let flat = try rows.toArray(Double.self)
        let order = places.indices.sorted { places[$0] < places[$1] }
        return (order.map { Array(flat[($0 * classes)..<(($0 + 1) * classes)]) }, order.map { places[$0] })
    }

    /// The part file for `items` (their places in the whole listing are `positions`).
    public static func part(
        probabilities: [[Double]], items: [ImageItem], positions: [Int], classes: [String],
        unknown: [UnknownMark]? = nil
    ) -> String {
        let extra = unknown == nil ? [] : ["unknown_distance", "unknown"]
        return CSVTable.row(["index", "name", "file"] + classes.map { "p_\($0)" } + extra) + "\n"
            + zip(positions, zip(items, probabilities)).enumerated().map { i, element in
                let (position, (item, p)) = element
                let mark = unknown.map { [String($0[i].distance), $0[i].isUnknown ? "1" : "0"] } ?? []
                return CSVTable.row([String(position), item.name, item.url.path] + p.map { String($0) } + mark)
            }.joined(separator: "\n") + "\n"
    }

    /// The parts' rows in the whole listing's order. Each part must have the model's classes; a photo in two
    /// parts, or a malformed row, is an error naming the file and line.
    public static func merge(
        _ parts: [URL], classes: [String]
    ) throws -> (probabilities: [[Double]], items: [ImageItem], unknown: [UnknownMark]?) {
        var rows: [(position: Int, item: ImageItem, p: [Double], mark: UnknownMark?)] = []
        var seen: [Int: String] = [:]
        let plain = ["index", "name", "file"] + classes.map { "p_\($0)" }
        let marked = plain + ["unknown_distance", "unknown"]
        for url in parts {
            let table = try CSVTable(url: url)
            // Parts carry the unknown answer when the model has one (all parts alike, or the answer is dropped).
            let expected = table.header == marked ? marked : plain
            guard table.header == expected else {
                throw WorkflowError(
                    "\(url.path): not a prediction part for this model (header \(table.header.joined(separator: ",")), "
                        + "expected \(expected.joined(separator: ",")))")
            }
            for (line, fields) in table.rows {
                guard fields.count == expected.count, let position = Int(fields[0]) else {
                    throw WorkflowError("\(url.path):\(line): expected \(expected.count) fields with an index first")
                }
                let p = fields[3..<(3 + classes.count)].compactMap(Double.init)
                guard p.count == classes.count else {
                    throw WorkflowError("\(url.path):\(line): the probabilities are not numbers")
                }
                if let other = seen[position] {
                    throw WorkflowError(
                        "\(url.path):\(line): photo \(position) is also in \(other): a part given twice?")
                }
                seen[position] = url.path
                let mark =
                    expected == marked
                    ? UnknownMark(
                        distance: Double(fields[plain.count]) ?? .nan, isUnknown: fields[plain.count + 1] == "1")
                    : nil
                rows.append(
                    (position, ImageItem(url: URL(fileURLWithPath: fields[2]), name: fields[1], label: nil), p, mark))
            }
        }
        rows.sort { $0.position < $1.position }
        let marks = rows.compactMap(\.mark)
        return (rows.map(\.p), rows.map(\.item), marks.count == rows.count ? marks : nil)
    }
}
