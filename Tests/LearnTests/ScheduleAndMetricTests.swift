import Foundation
import Testing

@testable import Learn

@Suite("Schedules and metrics")
struct ScheduleAndMetricTests {
    func close(_ a: Double, _ b: Double, _ tolerance: Double = 1e-12) -> Bool {
        abs(a - b) <= tolerance * max(1, abs(b))
    }

    @Test func scheduleValuesAtKnownPoints() {
        let cos = Schedules.cosine(1, 0)
        #expect(close(cos(0), 1) && close(cos(0.5), 0.5) && close(cos(1), 0))
        #expect(close(Schedules.linear(2, 4)(0.25), 2.5))
        let exp = Schedules.exponential(1e-7, 10)
        #expect(close(exp(0), 1e-7) && close(exp(1), 10) && close(exp(0.5), 1e-3, 1e-9))
        let combined = Schedules.combined([0.25, 0.75], [Schedules.linear(0, 1), Schedules.linear(1, 0)])
        #expect(close(combined(0.125), 0.5) && close(combined(0.25), 1) && close(combined(0.625), 0.5))
        let one = Schedules.oneCycle(max: 1, warmup: 0.25, div: 25, finalDiv: 1e5)
        #expect(close(one(0), 0.04) && close(one(0.25), 1) && close(one(1), 1 / 2.5e6))
        let momentum = Schedules.oneCycleMomentum()
        #expect(close(momentum(0), 0.95) && close(momentum(0.25), 0.85) && close(momentum(1), 0.95))
    }

    @Test func sgdrRestartsWhereCycleLengthAndMultSay() {
        #expect(Schedules.sgdrRestarts(cycles: 3, cycleLength: 1, cycleMult: 2) == [0, 1, 3])
        #expect(Schedules.sgdrRestarts(cycles: 3, cycleLength: 2, cycleMult: 1) == [0, 2, 4])
        let (schedule, epochs) = Schedules.sgdr(cycles: 3, cycleLength: 1, cycleMult: 2)
        #expect(epochs == 7)
        // Full rate at each restart (epoch 0, 1, 3 of 7), annealed just before.
        for start in [0.0, 1, 3] { #expect(close(schedule(start / 7), 1)) }
        #expect(schedule(0.999 / 7) < 1e-4 && schedule(2.999 / 7) < 1e-4)
        #expect(close(schedule(2.0 / 7), 0.5))  // middle of the second cycle
    }

    /// A warm-up rises from 1/25 of the rate to the rate over its fraction of the first cycle, then anneals;
    /// later cycles restart at the full rate as before.
    @Test func warmupRisesToThePeakInTheFirstCycleOnly() {
        let (schedule, epochs) = Schedules.sgdr(cycles: 2, cycleLength: 4, warmup: 0.25)
        #expect(epochs == 8)
        #expect(close(schedule(0), 1 / Schedules.warmupDiv) && close(schedule(1.0 / 8), 1))
        #expect(schedule(0.5 / 8) > 1 / Schedules.warmupDiv && schedule(0.5 / 8) < 1)
        #expect(schedule(3.999 / 8) < 1e-4 && close(schedule(4.0 / 8), 1))
        #expect(close(Schedules.sgdr(cycles: 1, cycleLength: 4).schedule(0), 1))  // no warm-up: the peak at once
    }

    @Test func metricsAgainstHandComputedValues() {
        let p: [[Double]] = [[0.9, 0.1], [0.4, 0.6], [0.3, 0.7], [0.8, 0.2]]
        let y = [0, 0, 1, 1]
        #expect(Metrics.accuracy(probabilities: p, labels: y) == 0.5)
        #expect(Metrics.errorRate(probabilities: p, labels: y) == 0.5)
        // Positive scores 0.7, 0.2 vs negatives 0.1, 0.6: pairs won 0.7>0.1, 0.7>0.6, 0.2>0.1 → 3/4.
        #expect(Metrics.rocAUC(probabilities: p, labels: y) == 0.75)
        // Ties count half.
        #expect(Metrics.rocAUC(scores: [0.5, 0.5, 0.5, 0.9], positives: [false, true, false, true]) == 0.75)
        #expect(Metrics.rocAUC(scores: [0.1, 0.2], positives: [true, true]).isNaN)
        let expectedLoss = -(log(0.9) + log(0.4) + log(0.7) + log(0.2)) / 4
        #expect(close(Metrics.logLoss(probabilities: p, labels: y), expectedLoss))
        let m = Metrics.confusionMatrix(probabilities: p, labels: y, classes: 2)
        #expect(m == [[1, 1], [1, 1]])
        let prf = Metrics.precisionRecallF1([[5, 1], [2, 8]])
        #expect(
            close(prf[1].precision, 8.0 / 9) && close(prf[1].recall, 0.8)
                && close(prf[1].f1, 2 * (8.0 / 9) * 0.8 / (8.0 / 9 + 0.8)))
        // Three classes: macro one-vs-rest.
        let p3: [[Double]] = [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]]
        #expect(Metrics.rocAUC(probabilities: p3, labels: [0, 1, 2]) == 1)
        let roc = Metrics.rocCurve(scores: [0.1, 0.4, 0.35, 0.8], positives: [false, false, true, true])
        #expect(roc.first! == (0, 0) && roc.last! == (1, 1))
    }
}
