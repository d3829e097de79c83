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
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 20, backend: .gloo)
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

    /// Rows gathered in rank order (rank 1 holds none here), a value shared from rank 0, votes counted.
    @Test func gatherShareAndCountGiveEveryRankTheSameAnswer() throws {
        struct Decision: Codable, Equatable { var rate: Double, name: String }
        let port = try Ranks.freePort()
        let outcomes = try Ranks.run(3) { rank -> ([Float], [Int64], Decision, Int, Double) in
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 3, timeout: 20, backend: .gloo)
            let rows = rank == 1 ? 0 : rank + 1  // rank 0: 1 row, rank 1: none, rank 2: 3 rows
            let part = try Tensor((0..<(rows * 2)).map { Float(10 * rank + $0) }, shape: [rows, 2])
            let gathered = try group.gatherRows(part)
            let labels = try group.gatherRows(Tensor((0..<rows).map { Int64(rank * 100 + $0) }))
            let shared = try group.share(rank == 0 ? Decision(rate: 3e-3, name: "ränk 0") : nil)
            return (
                try gathered.toArray(Float.self), try labels.toArray(Int64.self), shared, try group.count(rank != 1),
                try group.sum(Double(rank) + 0.5)
            )
        }
        for (rows, labels, decision, votes, sum) in outcomes {
            #expect(rows == [0, 1, 20, 21, 22, 23, 24, 25])
            #expect(labels == [0, 200, 201, 202])
            #expect(decision == Decision(rate: 3e-3, name: "ränk 0"))
            #expect(votes == 2 && sum == 4.5)
        }
    }

    /// A peer that leaves: the next collective on the other rank is an error within the timeout, not a hang.
    @Test func aPeerThatLeavesIsAnErrorOnTheOther() throws {
        let port = try Ranks.freePort()
        let outcomes = try Ranks.run(2) { rank -> String in
            let group = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 5, backend: .gloo)
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
        #expect(outcomes[0].contains("all-reduce failed on rank 0 of 2: another rank stopped"), "\(outcomes[0])")
    }

    /// A peer that never comes: an error naming the group within the timeout, not a hang.
    @Test func aMissingPeerIsAnErrorWithinTheTimeout() throws {
        let port = try Ranks.freePort()
        let start = Date()
        do {
            _ = try ProcessGroup(port: port, rank: 0, worldSize: 2, timeout: 2, backend: .gloo)
            Issue.record("a group of 2 formed with one rank")
        } catch {
            let seconds = Date().timeIntervalSince(start)
            #expect(seconds < 15, "took \(seconds) s")
            #expect("\(error)".contains("(rank 0 of 2 at 127.0.0.1:\(port)) could not form"), "\(error)")
        }
        #expect(throws: TorchError.self) { try ProcessGroup(port: port, rank: 2, worldSize: 2) }
    }

    /// Gloo is the backend on the CPU; NCCL, asked for without a GPU, fails with a message that names it (a
    /// libtorch without CUDA has none; with CUDA, NCCL refuses tensors that are not on a GPU), never hangs.
    @Test(.enabled(if: Torch.cudaDeviceCount == 0)) func ncclWithoutAGPUIsAnErrorNamingIt() throws {
        #expect(ProcessGroup.Backend.forDefaultDevice == .gloo)
        let port = try Ranks.freePort()
        do {
            let group = try ProcessGroup(port: port, rank: 0, worldSize: 1, timeout: 10, backend: .nccl)
            #expect(group.backend == .nccl)
            try group.allReduceSum([try Tensor([Float(1)])])
            Issue.record("NCCL reduced a CPU tensor")
        } catch let error as TorchError {
            #expect(error.message.contains("NCCL") || error.message.contains("CUDA"), "\(error.message)")
        }
    }
}
