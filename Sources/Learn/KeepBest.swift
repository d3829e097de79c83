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

    /// At its first fit, an epoch recorded without it (a phase fitted before it joined the learner) is the one to
    /// beat: the weights as they are now. Joined from the first phase (the head on precomputed activations), it
    /// sees every epoch, and the unfrozen phase can never leave a model below the head's own validation score.
    public func beforeFit(_ learner: Learner) throws {
        guard best == nil, let (value, _) = learner.recorder.latest(monitor), value.isFinite else { return }
        best = value
        bestEpoch = learner.recorder.epochs.count - 1
        weights = try learner.model.stateDict().mapValues { try $0.clone().detached() }
    }

    public func afterEpoch(_ learner: Learner) throws {
        guard let (value, higher) = learner.recorder.latest(monitor), value.isFinite else { return }
        if let best, higher ? value <= best : value >= best { return }
        best = value
        bestEpoch = learner.recorder.epochs.count - 1
        weights = try learner.model.stateDict().mapValues { try $0.clone().detached() }
    }

    /// The best epoch so far as checkpoint tensors (`best.*`) and metadata, so a resumed run keeps it.
    public func checkpointEntries() -> (tensors: [String: Tensor], metadata: [String: String]) {
        guard let weights, let best, let bestEpoch else { return ([:], [:]) }
        return (
            Dictionary(uniqueKeysWithValues: weights.map { ("best.\($0.key)", $0.value) }),
            ["keep_best_value": String(best), "keep_best_epoch": String(bestEpoch), "keep_best_monitor": monitor]
        )
    }

    /// Takes up the best epoch recorded in a checkpoint by ``checkpointEntries()`` (nothing if it has none or
    /// monitored something else).
    public func resume(from url: URL) throws {
        let (tensors, metadata) = try Learner.readCheckpoint(url)
        guard metadata["keep_best_monitor"] == monitor, let value = metadata["keep_best_value"].flatMap(Double.init),
            let epoch = metadata["keep_best_epoch"].flatMap({ Int($0) })
        else { return }
        let stored = tensors.filter { $0.key.hasPrefix("best.") }
        weights = Dictionary(uniqueKeysWithValues: stored.map { (String($0.key.dropFirst(5)), $0.value) })
        best = value
        bestEpoch = epoch
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
