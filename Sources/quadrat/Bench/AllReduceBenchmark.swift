import Foundation
import Torch
import Vision
import Workflow

/// `quadrat bench allreduce`: the time of one gradient all-reduce between two ranks over loopback TCP (two
/// process groups in this process, one per thread, as two processes on one machine would be; or the ranks of a
/// real group, one per process: `quadrat launch -n N -- bench allreduce`, or `--world-size` on each machine), for the
/// gradient sizes of EfficientNet-Lite0 and ResNet-34 bodies with the fastai head for two classes; then this
/// machine's training speed for each, and from both the ``ScalingModel`` table of efficiency across machines.
struct AllReduceBenchmark {
    var iterations: Int
    /// This process's group when the ranks are separate processes (`quadrat launch`, or one per machine or network
    /// namespace); nil: two ranks as threads of this process, over loopback.
    var group: ProcessGroup?

    func run() throws {
        var models: [(Architecture, ScalingModel)] = []
        for architecture in [Architecture.efficientNetLite0, .resNet34] {
            let model = try Classifier(architecture, classes: ["a", "b"], pretrained: false)
            let count = model.parameters.reduce(0) { $0 + $1.count }
            let sorted = try times(count: count).sorted()
            guard (group?.rank ?? 0) == 0 else { continue }
            let median = sorted[sorted.count / 2]
            let megabytes = Double(count * 4) / 1e6
            let between = group.map { "\($0.worldSize) ranks (processes)" } ?? "2 ranks (threads) over loopback"
            print(
                String(
                    format: "%@  %.2f M parameters (%.1f MB fp32): all-reduce between %@: median %.1f ms "
                        + "(%.2f GB/s of gradient), min %.1f ms",
                    architecture.rawValue, Double(count) / 1e6, megabytes, between, median * 1000,
                    megabytes / 1000 / median, (sorted.first ?? 0) * 1000))
            let speed = try Self.trainingImagesPerSecond(model, size: 224)
            print(
                String(
                    format: "%@  training, all layers, 224 px, batch 16, channels-last fp32: %.1f img/s",
                    architecture.rawValue, speed))
            models.append(
                (
                    architecture,
                    ScalingModel(gradientBytes: Double(count * 4), imagesPerSecond: speed, batchPerMachine: 32)
                ))
        }
        guard (group?.rank ?? 0) == 0 else { return }
        print("\nExpected efficiency of N such machines (batch 32 per machine; all-reduce after the backward pass):")
        print("| model | link | 4 machines | 16 machines | 64 machines | batch that hides it (64 machines) |")
        print("| --- | --- | ---: | ---: | ---: | ---: |")
        for (architecture, model) in models {
            for gigabits in [1.0, 10, 25] {
                let cells = [4, 16, 64].map {
                    String(format: "%.0f %%", 100 * model.efficiency(machines: $0, gigabits: gigabits))
                }
                print(
                    "| \(architecture.rawValue) | \(Int(gigabits)) Gbit/s | " + cells.joined(separator: " | ")
                        + String(format: " | %.1f |", model.hidingBatch(machines: 64, gigabits: gigabits)))
            }
        }
    }

    /// Seconds of each of `iterations` all-reduces of `count` floats on rank 0 (after a warm-up; the ranks meet
    /// at a barrier before each).
    func times(count: Int) throws -> [Double] {
        if let group { return try Self.time(group, count: count, iterations: iterations) }
        let port = try ProcessGroup.freePort()
        let results = Locked([Int: Result<[Double], Error>]())
        let threads = DispatchGroup()
        for rank in 0..<2 {
            threads.enter()
            Thread {
                defer { threads.leave() }
                let result = Result {
                    try Self.time(
                        ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 60, backend: .gloo), count: count,
                        iterations: iterations)
                }
                results.withLock { $0[rank] = result }
            }.start()
        }
        threads.wait()
        for rank in 0..<2 { _ = try results.withLock { $0[rank] }?.get() }
        return try results.withLock { $0[0] }?.get() ?? []
    }

    static func time(_ group: ProcessGroup, count: Int, iterations: Int) throws -> [Double] {
        let gradient = try Tensor.full([count], 1)
        try group.allReduceSum([gradient])  // warm-up: connections, buffers
        var times: [Double] = []
        for _ in 0..<max(1, iterations) {
            try group.barrier()
            let start = Date()
            try group.allReduceSum([gradient])
            times.append(Date().timeIntervalSince(start))
        }
        return times
    }

    /// Images per second of forward and backward passes through every layer (one warm-up step, three timed).
    static func trainingImagesPerSecond(_ model: Classifier, size: Int) throws -> Double {
        for p in model.parameters { _ = try p.requiringGrad(true) }
        try model.convert(to: .channelsLast)
        model.train()
        let x = try Tensor.randn([16, 3, size, size]).contiguous(.channelsLast)
        let y = try Tensor([Int64](repeating: 0, count: 16))
        var start = Date()
        for step in 0..<4 {
            if step == 1 { start = Date() }
            try model.zeroGrad()
            try Functional.crossEntropy(model(x), target: y).backward()
        }
        return 16 * 3 / Date().timeIntervalSince(start)
    }
}
