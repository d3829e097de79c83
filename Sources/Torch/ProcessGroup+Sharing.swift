import Foundation

/// What the ranks of a run share beyond gradients, built on the group's all-reduce and broadcast: rows that
/// each rank computed for its part of the data, decisions that one rank takes for all, and votes.
extension ProcessGroup {
    /// The rows of every rank's `part` (any first dimension, the same trailing shape and dtype everywhere),
    /// concatenated in rank order, on every rank. Built from one all-reduce of the counts and one of a
    /// zero-padded block in which each rank fills its own rows.
    public func gatherRows(_ part: Tensor) throws -> Tensor {
        let counts = try Tensor.zeros([worldSize], dtype: .int64)
        try counts.narrowed(dim: 0, rank..<(rank + 1)).copyInPlace(from: Tensor([Int64(part.shape[0])]))
        try allReduceSum([counts])
        let sizes = try counts.toArray(Int64.self).map(Int.init)
        let offset = sizes[..<rank].reduce(0, +)
        let all = try Tensor.zeros([sizes.reduce(0, +)] + part.shape.dropFirst(), dtype: part.dtype)
        if part.shape[0] > 0 {
            try all.narrowed(dim: 0, offset..<(offset + part.shape[0])).copyInPlace(from: part)
        }
        try allReduceSum([all])
        return all
    }

    /// Rank `root`'s `value` on every rank: rank `root` passes it, the others pass nil. Travels as JSON bytes
    /// (a broadcast of the length, then one of the bytes).
    public func share<T: Codable>(_ value: T?, from root: Int = 0) throws -> T {
        var bytes = [UInt8]()
        if rank == root {
            guard let value else { throw TorchError("process group: rank \(root) has no value to share") }
            bytes = Array(try JSONEncoder().encode(value))
        }
        let length = try Tensor([Int64(bytes.count)])
        try broadcast([length], from: root)
        let count = Int(try length.item())
        let payload = rank == root ? try Tensor(bytes) : try Tensor.zeros([count], dtype: .uint8)
        try broadcast([payload], from: root)
        let received = try payload.toArray(UInt8.self)
        do {
            return try JSONDecoder().decode(T.self, from: Data(received))
        } catch {
            throw TorchError("process group: rank \(root)'s \(T.self) could not be read: \(error)")
        }
    }

    /// How many ranks said yes.
    public func count(_ yes: Bool) throws -> Int {
        let votes = try Tensor([Int64(yes ? 1 : 0)])
        try allReduceSum([votes])
        return Int(try votes.item())
    }

    /// The sum of `value` over the ranks.
    public func sum(_ value: Double) throws -> Double {
        let total = try Tensor([value])
        try allReduceSum([total])
        return try total.item()
    }
}
