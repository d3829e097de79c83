import CTorch
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

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

    /// Who runs the collectives: Gloo over TCP for tensors on the CPU, NCCL for tensors on each rank's GPU.
    public enum Backend: Int32, Sendable {
        case gloo = 0
        case nccl = 1

        /// NCCL when this process's default device is a GPU and the build has NCCL, Gloo otherwise (Gloo reduces
        /// GPU tensors too, more slowly). NCCL needs one GPU per rank: ranks that are threads of one process, as
        /// in the tests and `bench allreduce`, share the default device and must ask for Gloo.
        public static var forDefaultDevice: Backend {
            Torch.defaultDevice.isCUDA && qt_nccl_built() == 1 ? .nccl : .gloo
        }
    }

    /// The backend the collectives run on.
    public let backend: Backend

    /// Joins the group; returns when all `worldSize` ranks have joined, or throws after `timeout` seconds. With
    /// NCCL, each rank's default device must be its own GPU (``Torch/setDefaultDevice(_:)``).
    public init(
        host: String = "127.0.0.1", port: Int, rank: Int, worldSize: Int, timeout: Double = 60,
        backend: Backend = .forDefaultDevice
    ) throws {
        guard worldSize >= 1, (0..<worldSize).contains(rank) else {
            throw TorchError("process group: rank \(rank) is not in 0..<\(worldSize)")
        }
        guard (1...65535).contains(port) else { throw TorchError("process group: port \(port) is not 1–65535") }
        let local = try Self.localAddress(toward: host, port: port)
        guard
            let handle = qt_pg_create(
                host, Int32(port), Int32(rank), Int32(worldSize), Int64(timeout * 1000), local, backend.rawValue)
        else {
            let error = TorchError.last()
            throw TorchError(
                "process group (rank \(rank) of \(worldSize) at \(host):\(port)) could not form: \(error.message)")
        }
        self.handle = handle
        self.backend = backend
        self.rank = rank
        self.worldSize = worldSize
    }

    deinit { qt_pg_free(handle) }

    /// Sums each tensor over all ranks, in place on every rank.
    public func allReduceSum(_ tensors: [Tensor]) throws {
        var handles = tensors.map { Optional($0.handle) }
        try withExtendedLifetime(tensors) {
            try collective("all-reduce") { qt_pg_allreduce_sum(handle, &handles, Int32(handles.count)) }
        }
    }

    /// Replaces each tensor by rank `root`'s, on every rank.
    public func broadcast(_ tensors: [Tensor], from root: Int) throws {
        var handles = tensors.map { Optional($0.handle) }
        try withExtendedLifetime(tensors) {
            try collective("broadcast") { qt_pg_broadcast(handle, &handles, Int32(handles.count), Int32(root)) }
        }
    }

    /// Returns when every rank has reached it.
    public func barrier() throws { try collective("barrier") { qt_pg_barrier(handle) } }

    /// Runs a collective, turning Gloo's failure into an error that says what it means for the run.
    private func collective(_ name: String, _ call: () -> Int32) throws {
        do {
            try check(call())
        } catch let error as TorchError {
            throw TorchError(
                "data-parallel \(name) failed on rank \(rank) of \(worldSize): another rank stopped, or could not be "
                    + "reached in time (\(error.message.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
    }

    /// This machine's IPv4 address on the route to `host` (the kernel's choice for a UDP socket connected there;
    /// nothing is sent): the interface the ranks' connections use. Loopback for a loopback host.
    static func localAddress(toward host: String, port: Int) throws -> String {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let first = found,
            let target = first.pointee.ai_addr
        else {
            throw TorchError("process group: cannot resolve \(host) to an IPv4 address")
        }
        defer { freeaddrinfo(found) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                fd >= 0 && connect(fd, target, first.pointee.ai_addrlen) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw TorchError("process group: no route to \(host): \(String(cString: strerror(errno)))") }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        inet_ntop(AF_INET, &local.sin_addr, &text, socklen_t(text.count))
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A loopback TCP port nobody listens on now (bound to port 0, read back, closed): for rank 0's store when
    /// all ranks run on this machine.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard fd >= 0, bound else { throw TorchError("no free loopback port: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
