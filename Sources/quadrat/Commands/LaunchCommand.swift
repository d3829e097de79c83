import ArgumentParser
import Foundation
import Workflow

/// `quadrat launch -n N -- train DATA --out RUN …`.
struct LaunchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Run train or predict as N data-parallel processes on this machine.",
        discussion: """
            Each process is one rank of a group that averages gradients after every step (PyTorch's c10d with \
            Gloo over loopback TCP); the cores are shared out between them. Rank 0 prints and writes the run \
            folder. Across machines, start `quadrat train … --world-size N --rank R --master HOST:PORT` on each \
            (or set WORLD_SIZE, RANK, MASTER_ADDR and MASTER_PORT, as torchrun does).

            predict splits the photos between the processes, and rank 0 writes all the predictions in the listing's \
            order.

            Example: quadrat launch -n 2 -- train ~/elpv --out runs/elpv-2
            """)

    @Option(name: .customShort("n"), help: "Processes to start.")
    var processes: Int
    @Option(help: "Port of rank 0's rendezvous on loopback (default: a free one).")
    var port: Int?
    @Option(help: "libtorch threads per process (default: the cores divided by the processes).")
    var threads: Int?
    @Argument(parsing: .postTerminator, help: "The command each process runs, after --.")
    var command: [String] = []

    func validate() throws {
        guard processes >= 1 else { throw ValidationError("-n must be at least 1, not \(processes)") }
        guard let first = command.first else {
            throw ValidationError("give the command after --, such as: quadrat launch -n 2 -- train DATA --out RUN")
        }
        guard ["train", "predict", "bench"].contains(first) else {
            throw ValidationError("launch runs train, predict or bench allreduce, not '\(first)'")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let status = try Launcher(processes: processes, port: port, threads: threads).run(command)
        if status != 0 { throw ExitCode(status) }
    }
}
