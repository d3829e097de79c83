import Foundation
import Torch

extension Learner {
    /// One-cycle training (Smith): rates warm up to `maxRate` then anneal; momentum moves the other way.
    public func fitOneCycle(epochs: Int, maxRate: [Double], extra: [Callback] = []) throws {
        try fit(
            epochs: epochs, rates: maxRate, schedule: Schedules.oneCycle(max: 1),
            momentum: Schedules.oneCycleMomentum(), extra: extra)
    }

    /// SGDR as in fastai 0.7's `fit(lr, n_cycle, cycle_len, cycle_mult)`: per-batch cosine annealing
    /// from the rate to 0, restarting each cycle; cycle k lasts `cycleLength × cycleMult^k` epochs.
    /// `warmup`: the fraction of the first cycle that rises to the rates (``Schedules/sgdr``).
    public func fitSGDR(
        rates: [Double], cycles: Int, cycleLength: Int = 1, cycleMult: Int = 1, warmup: Double = 0,
        from first: Int = 0, extra: [Callback] = []
    ) throws {
        let (schedule, epochs) = Schedules.sgdr(
            cycles: cycles, cycleLength: Double(cycleLength), cycleMult: Double(cycleMult), warmup: warmup)
        try fit(epochs: Int(epochs), from: first, rates: rates, schedule: schedule, extra: extra)
    }
}
