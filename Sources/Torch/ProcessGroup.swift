import CTorch
import Foundation

/// A group of processes that reduce tensors together: PyTorch's c10d engine, as `torchrun` and
/// DistributedDataParallel use it. Rank 0 hosts a TCPStore at `host:port`; every rank registers there, and
/// Gloo connects the ranks pairwise over TCP (loopback, or real interfaces between machines).
///
/// Every wait is bounded by `timeout`: a rank that never comes, or disappears, becomes an error on the others,
/// never a hang. Collectives are blocking and must be called in the same order on every rank.
public final class ProcessGroup: @unchecked Sendable {
    private let handle: OpaquePointer
    public let rank: Int
    public let worldSize: Int

    /// Joins the group; returns when all `worldSize` ranks have joined, or throws after `timeout` seconds.
    public init(host: String = "127.0.0.1", port: Int, rank: Int, worldSize: Int, timeout: Double = 60) throws {
        guard worldSize >= 1, (0..<worldSize).contains(rank) else {
            throw TorchError("process group: rank \(rank) is not in 0..<\(worldSize)")
        }
        guard (1...65535).contains(port) else { throw TorchError("process group: port \(port) is not 1–65535") }
        guard let handle = qt_pg_create(host, Int32(port), Int32(rank), Int32(worldSize), Int64(timeout * 1000))
        else {
            let error = TorchError.last()
            throw TorchError(
                "process group (rank \(rank) of \(worldSize) at \(host):\(port)) could not form: \(error.message)")
        }
        self.handle = handle
        self.rank = rank
        self.worldSize = worldSize
    }

    deinit { qt_pg_free(handle) }

    /// Sums each tensor over all ranks, in place on every rank.
    public func allReduceSum(_ tensors: [Tensor]) throws {
        var handles = tensors.map { Optional($0.handle) }
        try withExtendedLifetime(tensors) {
            try check(qt_pg_allreduce_sum(handle, &handles, Int32(handles.count)))
        }
    }

    /// Replaces each tensor by rank `root`'s, on every rank.
    public func broadcast(_ tensors: [Tensor], from root: Int) throws {
        var handles = tensors.map { Optional($0.handle) }
        try withExtendedLifetime(tensors) {
            try check(qt_pg_broadcast(handle, &handles, Int32(handles.count), Int32(root)))
        }
    }

    /// Returns when every rank has reached it.
    public func barrier() throws { try check(qt_pg_barrier(handle)) }
}
