import ArgumentParser
import Torch

/// `quadrat bench WHAT`: throughput figures. Build with `-c release` before timing anything.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (build with -c release first).",
        discussion: """
        core    GFLOP/s of matmul and convolutions, Swift API vs a plain C++ loop over libtorch.

        Example: swift build -c release && .build/release/quadrat bench core
        """
    )

    enum Suite: String, ExpressibleByArgument, CaseIterable {
        case core
    }

    @Argument(help: "Which benchmark: \(Suite.allCases.map(\.rawValue).joined(separator: ", ")).")
    var suite: Suite = .core

    @Option(help: "Threads for libtorch (default: all cores).")
    var threads: Int?

    @Option(help: "Repetitions per measurement round.")
    var iterations: Int = 10

    func run() throws {
        if let threads { Torch.threads = threads } else { Torch.useAllCores() }
        print("libtorch \(Torch.version), \(Torch.threads) threads")
        switch suite {
        case .core: try CoreBenchmark(iterations: iterations).run()
        }
    }
}
