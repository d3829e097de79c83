import Testing
import Workflow

/// The data-parallel scaling model against figures worked by hand.
@Suite("Scaling model")
struct ScalingModelTests {
    // EfficientNet-Lite0 with the head: 18.8 MB of fp32 gradient; a machine training 20 img/s, 32 images a step.
    let model = ScalingModel(gradientBytes: 18.8e6, imagesPerSecond: 20, batchPerMachine: 32)

    @Test func ringAllReduceMovesTwiceTheGradientLessOneShare() {
        // 4 machines on 1 Gbit/s (125 MB/s): 2·3/4 × 18.8 MB / 125 MB/s = 0.2256 s, plus 6 messages × 50 µs.
        #expect(abs(model.allReduceSeconds(machines: 4, gigabits: 1) - 0.2259) < 1e-9)
        #expect(model.allReduceSeconds(machines: 1, gigabits: 1) == 0)
        // Many machines: the bytes approach twice the gradient, the latency grows with N.
        #expect(
            abs(model.allReduceSeconds(machines: 64, gigabits: 10) - (2 * 63 / 64 * 18.8e6 / 1.25e9 + 126 * 50e-6))
                < 1e-12)
    }

    @Test func efficiencyAndTheBatchThatHidesTheAllReduce() {
        #expect(abs(model.computeSeconds - 1.6) < 1e-12)
        #expect(abs(model.efficiency(machines: 4, gigabits: 1) - 1.6 / (1.6 + 0.2259)) < 1e-9)
        #expect(model.efficiency(machines: 4, gigabits: 1, overlapped: true) == 1)
        #expect(abs(model.hidingBatch(machines: 4, gigabits: 1) - 0.2259 * 20) < 1e-9)
        // A faster link is never less efficient; more machines never more.
        #expect(model.efficiency(machines: 16, gigabits: 25) > model.efficiency(machines: 16, gigabits: 1))
        #expect(model.efficiency(machines: 64, gigabits: 1) < model.efficiency(machines: 4, gigabits: 1))
    }
}
