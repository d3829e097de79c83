import Foundation
import Torch

/// Helpers for process-group tests: ranks as threads of the test process, each with its own group, over loopback.
public enum Ranks {
    /// A TCP port nobody listens on now.
    public static func freePort() throws -> Int { try ProcessGroup.freePort() }

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
