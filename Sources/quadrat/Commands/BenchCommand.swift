import ArgumentParser
import Foundation
import Torch
import Vision
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
            inference  Quadrat's fp32 and bf16 inference against ONNX Runtime (from a Python that has it:
                    $QUADRAT_PYTHON, ~/.cache/quadrat-peers/ort, /usr/bin/python3) on the same model (--model, exported to ONNX), the
                    same photos (--photos DIR, the first 64), batch (--batch-size, default 8 here) and threads.
            active-learning  a reviewer simulated with true labels (--data, a Kaggle-layout folder whose test/ has
                    labels beside it or in answers/test_labels.csv, as `demo` writes it): 100 labelled photos, then
                    100 more per round up to 1,000, chosen at random or in review's pool order; test accuracy per
                    round and seed, written to --out (active_learning.csv, active_learning.svg and _auc.svg).

            Example: swift build -c release && .build/release/quadrat bench core
            """
    )

    enum Suite: String, ExpressibleByArgument, CaseIterable {
        case core, models, data, allreduce, unknown
        case activeLearning = "active-learning"
        case inference
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

    @Option(name: .customLong("batch-size"), help: "models, inference: images per batch (default 32 and 8).")
    var batchSize: Int?

    @Option(help: "inference: rounds of every path in turn; the table gives the median of each.")
    var rounds = 3

    func validate() throws {
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, not \(batchSize)") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1, not \(rounds)") }
    }

    @Option(help: "unknown, inference: the model file (or its run folder).") var model: String?
    @Option(help: "inference: a folder of photos (the first 64 are used).") var photos: String?
    @Option(help: "unknown: a folder of photos of the model's kind that it did not train on.") var known: String?
    @Option(help: "unknown: a folder of photos of other things.") var unknown: String?
    @Option(help: "active-learning: the labelled data folder (pool and labelled test).") var data: String?
    @Option(help: "active-learning: the folder for the CSV and the chart.") var out = "."

    @OptionGroup var device: DeviceOptions
    @OptionGroup(title: "allreduce between processes or machines (or quadrat launch -n N -- bench allreduce)")
    var distributed: DistributedOptions

    func run() throws {
        if let threads { Torch.threads = threads } else { Torch.useAllCores() }
        emit("libtorch \(Torch.version), \(Torch.threads) threads")
        switch suite {
        case .core: try CoreBenchmark(iterations: iterations).run()
        case .models:
            let rows = try ModelsBenchmark(batch: batchSize ?? 32, size: size).run()
            // The ImageNet check runs the pretrained classifier on its own photos, at the size it was trained at.
            if size == 224, batchSize ?? 32 == 32 {
                try ImageNetPrecisionAgreement.run()
            } else {
                emit("(the ImageNet precision check runs at 224 px, batch 32 only: skipped)")
            }
            if pytorch { try PyTorchComparison.run(swiftRows: rows, size: size, batchSize: batchSize ?? 32) }
        case .data: try DataBenchmark().run()
        case .allreduce: try AllReduceBenchmark(iterations: iterations, group: distributed.join()).run()
        case .unknown:
            guard let model, let known, let unknown else {
                throw ValidationError("bench unknown needs --model, --known and --unknown")
            }
            let paths = [model, known, unknown].map { URL(fileURLWithPath: $0) }
            _ = try UnknownScoreComparison(model: paths[0], known: paths[1], unknown: paths[2]).run { emit($0) }
        case .inference:
            guard let model, let photos else { throw ValidationError("bench inference needs --model and --photos") }
            try InferenceBenchmark(
                model: ModelArgument.resolve(model), photos: URL(fileURLWithPath: photos),
                batch: batchSize ?? 8, rounds: rounds
            ).run()
        case .activeLearning:
            guard let data else { throw ValidationError("bench active-learning needs --data") }
            try runActiveLearning(data: URL(fileURLWithPath: data))
        }
    }
}

extension BenchCommand {
    /// `bench active-learning`: both learning curves, printed and written to `--out`.
    func runActiveLearning(data: URL) throws {
        let pool = try DataSource.labelled(data)
        let answers = data.appendingPathComponent("answers/test_labels.csv")
        let labelledTest =
            try DataSource.labelledTest(besides: data, classes: pool.classes)
            ?? DataSource.csv(
                images: DataSource.testFolder(besides: data), labels: answers, classes: pool.classes)
        let points = try ActiveLearningSimulation().run(pool: pool, test: labelledTest) { emit($0) }
        let folder = URL(fileURLWithPath: out)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try AtomicFile.write(
            ActiveLearningSimulation.csv(points), to: folder.appendingPathComponent("active_learning.csv"))
        let title =
            "\(data.lastPathComponent): \(pool.items.count) to choose from, \(labelledTest.items.count) held out"
        for (auc, name) in [(false, "active_learning.svg"), (true, "active_learning_auc.svg")] {
            try AtomicFile.write(
                ActiveLearningSimulation.chart(points, title: title, auc: auc), to: folder.appendingPathComponent(name))
        }
        for strategy in ["random", "margin + k-center"] {
            let mine = points.filter { $0.strategy == strategy }
            for n in Set(mine.map(\.labelled)).sorted() {
                let at = mine.filter { $0.labelled == n }
                let (mean, sd) = at.map(\.accuracy).meanAndDeviation
                emit(String(format: "%@ %5d labelled: accuracy %.2f %% ± %.2f", strategy, n, mean * 100, sd * 100))
            }
        }
    }
}
