import Foundation
import Torch

/// Keeps the weights of the best epoch by a monitored value (fastai's `SaveModelCallback`, in memory):
/// after training, ``restoreBest(into:)`` puts them back, so the model saved is the best epoch's, not the
/// last one's. Non-finite values (a NaN loss) never count as best.
public final class KeepBest: Callback {
    /// "valid_loss", "train_loss" or a metric name.
    public let monitor: String
    public private(set) var best: Double?
    /// Index of the best epoch in the learner's ``Recorder/epochs`` (0-based, over every phase).
    public private(set) var bestEpoch: Int?
    private var weights: [String: Tensor]?
    public var order: Int { 50 }

    public init(monitor: String = "valid_loss") {
        self.monitor = monitor
    }

    public func afterEpoch(_ learner: Learner) throws {
        guard let (value, higher) = learner.recorder.latest(monitor), value.isFinite else { return }
        if let best, higher ? value <= best : value >= best { return }
        best = value
        bestEpoch = learner.recorder.epochs.count - 1
        weights = try learner.model.stateDict().mapValues { try $0.clone().detached() }
    }

    /// Loads the best epoch's weights (BatchNorm statistics included) into the learner's model; returns
    /// false when no epoch was monitored.
    @discardableResult
    public func restoreBest(into learner: Learner) throws -> Bool {
        guard let weights else { return false }
        try learner.model.load(weights)
        return true
    }
}
