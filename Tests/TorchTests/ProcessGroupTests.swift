import Foundation
import TestSupport
import Testing
import Torch

/// c10d over loopback: two ranks as two threads of this process, each with its own process group, talking TCP.
@Suite("Process groups (c10d, Gloo)", .serialized)
struct ProcessGroupTests {
    @Test func allReduceBroadcastAndBarrierAgreeOnEveryRank() throws {
        let port = try Ranks.freePort()
        let outcomes = try Ranks.run(2) { rank -> [[Float]] in
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 20)
            // Rank r holds [r + 1, 10 (r + 1)] and a 2×2 of r: the sums are [3, 30] and a 2×2 of 1.
            let a = try Tensor([Float(rank + 1), Float(10 * (rank + 1))])
            let b = try Tensor.full([2, 2], Double(rank))
            try group.allReduceSum([a, b])
            let c = try Tensor([Float(100 + rank)])
            try group.broadcast([c], from: 1)
            try group.barrier()
            return [try a.toArray(Float.self), try b.toArray(Float.self), try c.toArray(Float.self)]
        }
        for outcome in outcomes {
            #expect(outcome[0] == [3, 30] && outcome[1] == [1, 1, 1, 1] && outcome[2] == [101])
        }
    }

    /// A peer that leaves: the next collective on the other rank is an error within the timeout, not a hang.
    @Test func aPeerThatLeavesIsAnErrorOnTheOther() throws {
        let port = try Ranks.freePort()
        let outcomes = try Ranks.run(2) { rank -> String in
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 5)
            try group.barrier()
            guard rank == 0 else { return "left" }  // rank 1 drops its group here
            Thread.sleep(forTimeInterval: 0.5)
            let start = Date()
            do {
                try group.allReduceSum([try Tensor([Float(1)])])
                return "no error"
            } catch {
                return Date().timeIntervalSince(start) < 10 ? "error: \(error)" : "late error"
            }
        }
        #expect(outcomes[0].hasPrefix("error: "), "\(outcomes[0])")
    }

    /// A peer that never comes: an error naming the group within the timeout, not a hang.
    @Test func aMissingPeerIsAnErrorWithinTheTimeout() throws {
        let port = try Ranks.freePort()
        let start = Date()
        do {
            _ = try ProcessGroup(port: port, rank: 0, worldSize: 2, timeout: 2)
            Issue.record("a group of 2 formed with one rank")
        } catch {
            let seconds = Date().timeIntervalSince(start)
            #expect(seconds < 15, "took \(seconds) s")
            #expect("\(error)".contains("(rank 0 of 2 at 127.0.0.1:\(port)) could not form"), "\(error)")
        }
        #expect(throws: TorchError.self) { try ProcessGroup(port: port, rank: 2, worldSize: 2) }
    }
}
