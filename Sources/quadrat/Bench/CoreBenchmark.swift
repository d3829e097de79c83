import CTorchBench
import Foundation
import Torch
import Workflow

/// `quadrat bench core`: the same kernels timed through the Swift API and through a
/// plain C++ loop (CTorchBench), alternating rounds so both see the same machine load.
struct CoreBenchmark {
    var iterations: Int
    var rounds = 3

    struct Case {
        var name: String
        /// Shim benchmark kind: 0 matmul, 1 conv 3×3, 2 depthwise 3×3.
        var kind: Int32
        var a: Int, b: Int, c: Int
        var format: MemoryFormat
        var flops: Double
    }

    static let cases: [Case] = [
        Case(name: "matmul 1024²", kind: 0, a: 1024, b: 0, c: 0, format: .contiguous, flops: 2 * pow(1024, 3)),
        Case(
            name: "conv3×3 64→64 56² b32 NCHW", kind: 1, a: 32, b: 64, c: 56, format: .contiguous,
            flops: 2 * 32 * 64 * 56 * 56 * 64 * 9),
        Case(
            name: "conv3×3 64→64 56² b32 channels-last", kind: 1, a: 32, b: 64, c: 56, format: .channelsLast,
            flops: 2 * 32 * 64 * 56 * 56 * 64 * 9),
        Case(
            name: "depthwise3×3 144ch 56² b32 channels-last", kind: 2, a: 32, b: 144, c: 56, format: .channelsLast,
            flops: 2 * 32 * 144 * 56 * 56 * 9),
    ]

    func run() throws {
        emit("case".padding(toLength: 44, withPad: " ", startingAt: 0) + "  Swift GFLOP/s   C++ GFLOP/s   ratio")
        for c in Self.cases {
            let work = try swiftWork(c)
            var bestSwift = Double.infinity, bestCpp = Double.infinity
            for _ in 0..<rounds {
                bestSwift = min(bestSwift, try time(work))
                let cpp = qtb_bench_cpp(c.kind, Int64(c.a), Int64(c.b), Int64(c.c), c.format.code, Int32(iterations))
                if cpp < 0 { throw TorchError("the C++ reference loop failed for \(c.name)") }
                bestCpp = min(bestCpp, cpp)
            }
            let swiftRate = c.flops / bestSwift / 1e9, cppRate = c.flops / bestCpp / 1e9
            emit(
                c.name.padding(toLength: 44, withPad: " ", startingAt: 0)
                    + String(format: "  %13.1f  %12.1f  %6.3f", swiftRate, cppRate, swiftRate / cppRate))
        }
    }

    /// The case's kernel through the Swift API.
    func swiftWork(_ c: Case) throws -> () throws -> Tensor {
        switch c.kind {
        case 0:
            let x = try Tensor.randn([c.a, c.a]), w = try Tensor.randn([c.a, c.a])
            return { try x.matmul(w) }
        default:
            let groups = c.kind == 2 ? c.b : 1
            let x = try Tensor.randn([c.a, c.b, c.c, c.c]).contiguous(c.format)
            let w = try Tensor.randn([c.b, c.b / groups, 3, 3]).contiguous(c.format)
            return { try Functional.conv2d(x, weight: w, padding: (1, 1), groups: groups) }
        }
    }

    /// Seconds per call, after one warm-up call, without gradient recording.
    func time(_ work: () throws -> Tensor) throws -> Double {
        try Torch.withoutGrad {
            _ = try work()
            let start = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<iterations { _ = try work() }
            return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(iterations)
        }
    }
}
