import ArgumentParser
import Foundation
import Torch
import Workflow

/// `quadrat bench WHAT`: throughput figures. Build with `-c release` before timing anything.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure throughput (build with -c release first).",
        discussion: """
            core    GFLOP/s of matmul and convolutions, Swift API vs a plain C++ loop over libtorch.
            models  img/s of EfficientNet-Lite0 and ResNet-34 (224 px, batch 32): inference and training,
                    NCHW vs channels-last vs the inference copy; with --pytorch, the same in PyTorch.
            data    img/s of decoding, decode + presize (cold cache) and the augmenting loader, on ELPV and on
                    generated 1154×866 JPEGs.
            allreduce  ms per gradient all-reduce between two ranks over loopback (c10d, Gloo), Lite0 and ResNet-34;
                    with --world-size (or under launch) between the ranks of a real group. Then this machine's
                    training speed and the expected efficiency of 4, 16 and 64 machines on 1, 10 and 25 Gbit/s.
            unknown  which "none of these" score tells a model's own kind of photo (--known, a folder it did not train
                    on) from other things (--unknown): ROC AUC and the share refused at a 5 % threshold, per score.

            Example: swift build -c release && .build/release/quadrat bench core
            """
    )

    enum Suite: String, ExpressibleByArgument, CaseIterable {
        case core, models, data, allreduce, unknown
    }

    @Argument(help: "Which benchmark: \(Suite.allCases.map(\.rawValue).joined(separator: ", ")).")
    var suite: Suite = .core

    @Option(help: "Threads for libtorch (default: all cores).")
    var threads: Int?

    @Flag(help: "Also run the same models in PyTorch (Debian's python3-torch, /usr/bin/python3) and compare.")
    var pytorch = false

    @Option(help: "Repetitions per measurement round.")
    var iterations: Int = 10

    @Option(help: "models: input size in pixels (to compare with a model trained at another size).")
    var size = 224

    @Option(name: .customLong("batch-size"), help: "models: images per batch.")
    var batchSize = 32

    @Option(help: "unknown: the model file.") var model: String?
    @Option(help: "unknown: a folder of photos of the model's kind that it did not train on.") var known: String?
    @Option(help: "unknown: a folder of photos of other things.") var unknown: String?

    @OptionGroup(title: "allreduce between processes or machines (or quadrat launch -n N -- bench allreduce)")
    var distributed: DistributedOptions

    func run() throws {
        if let threads { Torch.threads = threads } else { Torch.useAllCores() }
        emit("libtorch \(Torch.version), \(Torch.threads) threads")
        switch suite {
        case .core: try CoreBenchmark(iterations: iterations).run()
        case .models:
            let rows = try ModelsBenchmark(batch: batchSize, size: size).run()
            // The ImageNet check runs the pretrained classifier on its own photos, at the size it was trained at.
            if size == 224, batchSize == 32 {
                try ImageNetPrecisionAgreement.run()
            } else {
                emit("(the ImageNet precision check runs at 224 px, batch 32 only: skipped)")
            }
            if pytorch { try PyTorchComparison.run(swiftRows: rows, size: size, batchSize: batchSize) }
        case .data: try DataBenchmark().run()
        case .allreduce: try AllReduceBenchmark(iterations: iterations, group: distributed.join()).run()
        case .unknown:
            guard let model, let known, let unknown else {
                throw ValidationError("bench unknown needs --model, --known and --unknown")
            }
            let paths = [model, known, unknown].map { URL(fileURLWithPath: $0) }
            _ = try UnknownScoreComparison(model: paths[0], known: paths[1], unknown: paths[2]).run { emit($0) }
        }
    }
}
