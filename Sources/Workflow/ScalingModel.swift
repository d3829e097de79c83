import Foundation

/// The expected efficiency of data-parallel training across machines, from measured figures: how long one
/// machine computes a step, and how long the ring all-reduce of the gradient takes on a link. Each rank sends
/// and receives 2 (N−1)/N × the gradient's bytes per step, in 2 (N−1) messages (reduce-scatter, then
/// all-gather), each paying the link's latency.
public struct ScalingModel: Sendable {
    /// Gradient size in bytes (4 per parameter in fp32).
    public var gradientBytes: Double
    /// Training images per second of one machine.
    public var imagesPerSecond: Double
    /// Images per machine per step.
    public var batchPerMachine: Int
    /// Seconds per message on the link (TCP between machines of one rack: tens of microseconds).
    public var latency: Double = 50e-6

    public init(gradientBytes: Double, imagesPerSecond: Double, batchPerMachine: Int) {
        (self.gradientBytes, self.imagesPerSecond, self.batchPerMachine) =
            (gradientBytes, imagesPerSecond, batchPerMachine)
    }

    /// Seconds of one machine's forward and backward pass on its part of a step.
    public var computeSeconds: Double { Double(batchPerMachine) / imagesPerSecond }

    /// Seconds of one ring all-reduce of the gradient among `machines` over a link of `gigabits` per second.
    public func allReduceSeconds(machines: Int, gigabits: Double) -> Double {
        guard machines > 1 else { return 0 }
        let n = Double(machines)
        return 2 * (n - 1) / n * gradientBytes / (gigabits * 1e9 / 8) + 2 * (n - 1) * latency
    }

    /// Speed-up over one machine divided by the machines: compute / (compute + all-reduce) when the all-reduce
    /// follows the backward pass (as Quadrat's one bucket does), compute / max(compute, all-reduce) when it
    /// overlaps it completely.
    public func efficiency(machines: Int, gigabits: Double, overlapped: Bool = false) -> Double {
        let c = computeSeconds, a = allReduceSeconds(machines: machines, gigabits: gigabits)
        return overlapped ? c / max(c, a) : c / (c + a)
    }

    /// The per-machine batch whose compute takes as long as the all-reduce: from there on, an all-reduce that
    /// overlaps the backward pass is hidden.
    public func hidingBatch(machines: Int, gigabits: Double) -> Double {
        allReduceSeconds(machines: machines, gigabits: gigabits) * imagesPerSecond
    }
}
