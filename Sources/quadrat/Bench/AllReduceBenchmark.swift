import Foundation
import Torch
import Vision
import Workflow

/// `quadrat bench allreduce`: the time of one gradient all-reduce between two ranks over loopback TCP (two
/// process groups in this process, one per thread, as two processes on one machine would be), for the
/// gradient sizes of EfficientNet-Lite0 and ResNet-34 bodies with the fastai head for two classes.
struct AllReduceBenchmark {
    var iterations: Int

    func run() throws {
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
        }
    }
}
