import Torch

/// Gradient accumulation (fastai's `GradientAccumulation`): the optimizer steps once every `batches` batches, on
/// the gradients of all of them, each batch's loss divided by `batches` — the update of a batch `batches` times
/// larger, on the memory of one (large images on a small machine). Uses the open loop: it replaces the loss in
/// `afterLoss` and cancels the step in `beforeStep` (gradients are zeroed only after a step, so they add up).
/// A partial group at the end of an epoch is dropped with the next epoch's first zeroing. BatchNorm still sees
/// the small batches.
public final class GradientAccumulation: Callback {
    public let batches: Int
    private var pending = 0

    public init(batches: Int) { self.batches = max(1, batches) }

    public func beforeTrain(_ learner: Learner) throws { pending = 0 }

    public func afterLoss(_ learner: Learner) throws {
        if let loss = learner.loss { learner.loss = try loss / Double(batches) }
    }

    public func beforeStep(_ learner: Learner) throws {
        pending += 1
        guard pending == batches else { throw CancelStep() }
        pending = 0
    }
}
