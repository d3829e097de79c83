import Foundation
import Torch
import Vision
import Workflow

/// `quadrat bench allreduce`: the time of one gradient all-reduce between two ranks over loopback TCP (two
/// process groups in this process, one per thread, as two processes on one machine would be), for the
/// gradient sizes of EfficientNet-Lite0 and ResNet-34 bodies with the fastai head for two classes; then this
/// machine's training speed for each, and from both the ``ScalingModel`` table of efficiency across machines.
struct AllReduceBenchmark {
    var iterations: Int

    func run() throws {
        var models: [(Architecture, ScalingModel)] = []
        for architecture in [Architecture.efficientNetLite0, .resNet34] {
            let model = try Classifier(architecture, classes: ["a", "b"], pretrained: false)
            let count = model.parameters.reduce(0) { $0 + $1.count }
            let port = 29_600 + Int.random(in: 0..<300)
            let times = Locked([Double]())
            let errors = Locked([String]())
            let group = DispatchGroup()
            for rank in 0..<2 {
                group.enter()
                Thread {
                    defer { group.leave() }
                    do {
                        let pg = try ProcessGroup(port: port, rank: rank, worldSize: 2, timeout: 60)
                        let gradient = try Tensor.full([count], 1)
                        try pg.allReduceSum([gradient])  // warm-up: connections, buffers
                        for _ in 0..<iterations {
                            try pg.barrier()
                            let start = Date()
                            try pg.allReduceSum([gradient])
                            if rank == 0 { times.withLock { $0.append(Date().timeIntervalSince(start)) } }
                        }
                    } catch {
                        errors.withLock { $0.append("rank \(rank): \(error)") }
                    }
                }.start()
            }
            group.wait()
            if let error = errors.withLock({ $0.first }) { throw WorkflowError(error) }
            let sorted = times.withLock { $0 }.sorted()
            let median = sorted[sorted.count / 2]
            let megabytes = Double(count * 4) / 1e6
            print(
                String(
                    format: "%@  %.2f M parameters (%.1f MB fp32): all-reduce over loopback, 2 ranks: median %.1f ms "
                        + "(%.2f GB/s of gradient), min %.1f ms",
                    architecture.rawValue, Double(count) / 1e6, megabytes, median * 1000, megabytes / 1000 / median,
                    (sorted.first ?? 0) * 1000))
            let speed = try Self.trainingImagesPerSecond(model, size: 224)
            print(
                String(format: "%@  training, all layers, 224 px, batch 16: %.1f img/s", architecture.rawValue, speed))
            models.append(
                (
                    architecture,
                    ScalingModel(gradientBytes: Double(count * 4), imagesPerSecond: speed, batchPerMachine: 32)
                ))
        }
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

    /// Images per second of forward and backward passes through every layer (one warm-up step, three timed).
    static func trainingImagesPerSecond(_ model: Classifier, size: Int) throws -> Double {
        for p in model.parameters { _ = try p.requiringGrad(true) }
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
