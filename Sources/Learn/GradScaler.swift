import Torch

/// Dynamic loss scaling for float16 training (PyTorch's `GradScaler`, fastai's `MixedPrecision`): float16's small
/// range flushes small gradients to zero, so the loss is multiplied by `scale` before the backward pass and the
/// gradients divided by it before the step. A step whose gradients hold an infinity or a NaN is skipped and the
/// scale halved; after `growthInterval` good steps in a row it doubles.
///
/// The learner adds one by itself when mixed precision runs in float16 (a GPU before compute capability 8.0);
/// bfloat16 has float32's range and needs none. It runs after ``GradientAccumulation``, so it sees the step that
/// is taken, on the summed gradients.
public final class GradScaler: Callback {
    public var order: Int { 10 }
    /// The factor the loss is multiplied by now.
    public private(set) var scale: Double
    public let growthInterval: Int
    /// Steps skipped for gradients that overflowed.
    public private(set) var skippedSteps = 0
    private var goodSteps = 0

    public init(scale: Double = 65_536, growthInterval: Int = 2000) {
        self.scale = scale
        self.growthInterval = max(1, growthInterval)
    }

    public func afterLoss(_ learner: Learner) throws {
        if let loss = learner.loss { learner.loss = try loss * scale }
    }

    public func beforeStep(_ learner: Learner) throws {
        let gradients = try learner.optimizer.groups.flatMap(\.parameters).compactMap { try $0.grad }
        // One sum over every gradient, read once (one wait for the device, not one per tensor): an infinity or a
        // NaN anywhere makes it non-finite.
        var total: Tensor?
        for g in gradients {
            let s = try g.to(.float32).sum()
            total = try total.map { try $0 + s } ?? s
        }
        let finite = try total.map { try $0.item().isFinite } ?? true
        guard finite else {
            try learner.optimizer.zeroGrad()
            scale /= 2
            goodSteps = 0
            skippedSteps += 1
            throw CancelStep()
        }
        for g in gradients { try g.mulInPlace(1 / scale) }
        goodSteps += 1
        if goodSteps == growthInterval {
            scale *= 2
            goodSteps = 0
        }
    }
}
