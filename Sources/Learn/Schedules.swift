import Foundation

/// Learning-rate (and momentum) schedules as pure functions of the position in [0, 1].
public typealias Schedule = @Sendable (_ position: Double) -> Double

/// Schedules as pure functions of the fit's position in [0, 1] (fastai's `callback/schedule.py`).
public enum Schedules {
    /// Cosine from `start` to `end`.
    public static func cosine(_ start: Double, _ end: Double) -> Schedule {
        { p in start + (1 + cos(.pi * (1 - p))) * (end - start) / 2 }
    }

    public static func linear(_ start: Double, _ end: Double) -> Schedule {
        { p in start + p * (end - start) }
    }

    /// Geometric from `start` to `end` (the LR finder's ramp).
    public static func exponential(_ start: Double, _ end: Double) -> Schedule {
        { p in start * pow(end / start, p) }
    }

    public static func constant(_ value: Double) -> Schedule { { _ in value } }

    /// Joins schedules: `fractions` (summing to 1) of the range, each followed by the next schedule.
    public static func combined(_ fractions: [Double], _ schedules: [Schedule]) -> Schedule {
        precondition(fractions.count == schedules.count && !fractions.isEmpty)
        let bounds = fractions.reduce(into: [0.0]) { $0.append(($0.last ?? 0) + $1) }
        return { p in
            var k = 0
            while k < fractions.count - 1, p >= bounds[k + 1] { k += 1 }
            let local = fractions[k] > 0 ? (p - bounds[k]) / fractions[k] : 1
            return schedules[k](min(1, max(0, local)))
        }
    }

    /// One-cycle: warm up from max/div to max over `warmup`, then cosine down to max/(div·finalDiv).
    public static func oneCycle(
        max: Double, warmup: Double = 0.25, div: Double = 25, finalDiv: Double = 1e5
    ) -> Schedule {
        combined([warmup, 1 - warmup], [cosine(max / div, max), cosine(max, max / (div * finalDiv))])
    }

    /// Momentum for one-cycle, moving against the rate: high → low → high.
    public static func oneCycleMomentum(high: Double = 0.95, low: Double = 0.85, warmup: Double = 0.25) -> Schedule {
        combined([warmup, 1 - warmup], [cosine(high, low), cosine(low, high)])
    }

    /// SGDR (Loshchilov & Hutter): `cycles` cosine annealings from the rate to ~0, each restarting;
    /// cycle k lasts `cycleLength × cycleMult^k` epochs. Returns the schedule over all epochs and the total epochs.
    /// `warmup` (a fraction of the first cycle) makes that cycle a one-cycle: a cosine rise from 1/``warmupDiv`` of
    /// the rate to the rate, then the annealing. Unfreezing a body at its full rate knocked ELPV's validation
    /// accuracy from the head's 0.827 to 0.735–0.763 before it recovered.
    public static func sgdr(
        cycles: Int, cycleLength: Double = 1, cycleMult: Double = 1, minimumFraction: Double = 0.0,
        warmup: Double = 0
    ) -> (schedule: Schedule, epochs: Double) {
        let lengths = (0..<cycles).map { cycleLength * pow(cycleMult, Double($0)) }
        let total = lengths.reduce(0, +)
        let annealings = lengths.indices.map { k -> Schedule in
            guard k == 0, warmup > 0 else { return cosine(1, minimumFraction) }
            return combined([warmup, 1 - warmup], [cosine(1 / warmupDiv, 1), cosine(1, minimumFraction)])
        }
        let schedule = combined(lengths.map { $0 / total }, annealings)
        return (schedule, total)
    }

    /// Where a warm-up starts, as a divisor of the peak rate (fastai's one-cycle `div`).
    public static let warmupDiv = 25.0

    /// Epochs (counted from 0) at which each SGDR cycle starts.
    public static func sgdrRestarts(cycles: Int, cycleLength: Double, cycleMult: Double) -> [Double] {
        var starts: [Double] = [], t = 0.0
        for k in 0..<cycles {
            starts.append(t)
            t += cycleLength * pow(cycleMult, Double(k))
        }
        return starts
    }
}
