import Foundation
import Torch
import Vision

#if canImport(Glibc)
    import Glibc
#endif

/// `quadrat launch`: starts N processes of this program on this machine as the ranks of one data-parallel
/// group (what `torchrun --nproc-per-node N` does), with the environment a rank reads: `WORLD_SIZE`, `RANK`,
/// `MASTER_ADDR` (loopback), `MASTER_PORT`, and `QUADRAT_THREADS` (the cores shared out between the ranks).
///
/// Rank 0 speaks for the run on standard output; the other ranks' standard output is dropped, their errors are
/// kept. When a rank fails, the others are stopped if they do not end by themselves within a minute; the first
/// failure's status is returned. SIGTERM is
/// passed on to the ranks; SIGINT from the terminal reaches them directly (they stop after an agreed step,
/// and rank 0 saves a checkpoint).
public struct Launcher {
    public var processes: Int
    public var port: Int?
    /// libtorch threads per rank (default: the cores divided between the ranks, at least 1).
    public var threads: Int?
    /// The program to start (default: this one).
    public var executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()

    public init(processes: Int, port: Int? = nil, threads: Int? = nil) {
        (self.processes, self.port, self.threads) = (processes, port, threads)
    }

    /// Runs `arguments` (a subcommand and its arguments) in every rank; returns the exit status: 0 when
    /// all ranks succeeded, else the first failed rank's.
    public func run(_ arguments: [String]) throws -> Int32 {
        let port = try port ?? ProcessGroup.freePort()
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = threads ?? max(1, cores / processes)
        let ranks = try (0..<processes).map { rank in
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            if rank > 0 { process.standardOutput = FileHandle.nullDevice }
            process.environment = environment(
                rank: rank, port: port, threads: threads, inheriting: ProcessInfo.processInfo.environment)
            try process.run()
            return process
        }
        Feedback.warn("launch: \(processes) processes × \(threads) thread(s), rank 0 at 127.0.0.1:\(port)")
        let passOn: @Sendable (Int32) -> Void = { signal in
            // The terminal sent SIGINT to every rank already; anything else is passed on.
            guard signal != SIGINT else { return }
            for process in ranks where process.isRunning { kill(process.processIdentifier, signal) }
        }
        return Interrupts.whileRunning(onFirstSignal: passOn) { Self.wait(for: ranks) }
    }

    /// What rank `rank` runs with: this process's environment and torchrun's variables (`LOCAL_RANK` and
    /// `LOCAL_WORLD_SIZE` too, which give each rank its GPU under `--device`), the rank's share of the cores; ranks above 0 quiet.
    func environment(rank: Int, port: Int, threads: Int, inheriting base: [String: String]) -> [String: String] {
        var environment = base
        environment["WORLD_SIZE"] = String(processes)
        environment["RANK"] = String(rank)
        environment["LOCAL_RANK"] = String(rank)
        environment["LOCAL_WORLD_SIZE"] = String(processes)
        environment["MASTER_ADDR"] = "127.0.0.1"
        environment["MASTER_PORT"] = String(port)
        environment["QUADRAT_THREADS"] = String(threads)
        if rank > 0 { environment["QUADRAT_QUIET"] = "1" }
        return environment
    }

    /// Waits for every rank. After a failure the others get `grace` seconds to end by themselves (they notice a
    /// rank that left at their next collective, and after Ctrl-C rank 0 is saving a checkpoint); then they are
    /// stopped.
    static func wait(for ranks: [Process], grace: Double = 60) -> Int32 {
        var failure: (rank: Int, status: Int32, at: Date)?
        var running = Set(ranks.indices)
        while !running.isEmpty {
            for rank in running.sorted() where !ranks[rank].isRunning {
                running.remove(rank)
                let status = ranks[rank].terminationStatus
                if status != 0, failure == nil { failure = (rank, status, Date()) }
            }
            if let failure, !running.isEmpty, Date().timeIntervalSince(failure.at) > grace {
                Feedback.warn(
                    "launch: rank \(failure.rank) failed (exit status \(failure.status)); stopping the others")
                for other in running where ranks[other].isRunning { ranks[other].terminate() }
            }
            if !running.isEmpty { usleep(50_000) }
        }
        return failure?.status ?? 0
    }
}
