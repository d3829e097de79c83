import Foundation
import Torch

#if canImport(Glibc)
    import Glibc
#endif

/// Helpers for process-group tests: ranks as threads of the test process, each with its own group, over loopback.
public enum Ranks {
    /// A TCP port nobody listens on now (bound to port 0, read back, closed).
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
        guard bound else { throw TorchError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs `body(rank)` for ranks 0..<world, each on its own thread; returns their results in rank order.
    public static func run<T: Sendable>(_ world: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = Locked([Int: Result<T, Error>]())
        let group = DispatchGroup()
        for rank in 0..<world {
            group.enter()
            Thread {
                let result = Result { try body(rank) }
                results.withLock { $0[rank] = result }
                group.leave()
            }.start()
        }
        group.wait()
        return try (0..<world).map { rank in
            guard let result = results.withLock({ $0[rank] }) else { throw TorchError("rank \(rank) gave nothing") }
            return try result.get()
        }
    }
}
