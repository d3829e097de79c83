import Foundation
import Torch

/// An exponential moving average of the weights (Polyak averaging, as timm's `ModelEmaV2`): after every step the
/// average moves `1/horizon` of the way to the trained weights, `horizon` being one epoch of steps. The model is
/// validated (and so kept by ``KeepBest``) with the average; training goes on from the trained weights.
///
/// Why: with the body unfrozen at its peak rate, ELPV's validation accuracy swung from epoch to epoch (0.832, 0.799,
/// 0.812, 0.616, 0.837 in fp32 on an AMD Zen 5): single weights at a high rate land anywhere in a wide valley,
/// their average near its middle.
///
/// Events: the average starts from the weights at the fit's start, moves after each step, replaces the weights
/// before validation, and hands them back before the next epoch: first of all callbacks, so that
/// ``EpochStartSnapshots`` sees the trained weights. After the fit, the model holds the average.
public final class WeightAveraging: Callback {
    private var average: [String: Tensor] = [:]
    /// The average as it was when the current epoch started: what an interrupted epoch resumes with.
    private var epochStartAverage: [String: Tensor] = [:]
    /// The trained weights while the average stands in for them (between validation and the next epoch).
    private var trained: [String: Tensor]?
    private var decay = 0.0
    public var order: Int { -110 }

    public init() {}

    public func beforeFit(_ learner: Learner) throws {
        decay = 1 - 1 / Double(max(1, learner.train.batchCount))
        // A resumed run brings its average (``resume(from:)``); a fresh one starts from the weights as they are.
        if average.isEmpty { average = try Self.copy(learner.model.stateDict()) }
    }

    public func beforeEpoch(_ learner: Learner) throws {
        if let trained {
            try learner.model.load(trained)
            self.trained = nil
        }
        epochStartAverage = try Self.copy(average)
    }

    public func afterStep(_ learner: Learner) throws {
        try Torch.withoutGrad {
            for (name, live) in learner.model.stateDict() {
                guard let mean = average[name] else { continue }
                if live.dtype.isFloatingPoint {
                    try mean.mulInPlace(decay)
                    try mean.addInPlace(live.detached(), alpha: 1 - decay)
                } else {
                    try mean.copyInPlace(from: live)  // counters: the latest
                }
            }
        }
    }

    public func beforeValidate(_ learner: Learner) throws {
        trained = try Self.copy(learner.model.stateDict())
        try learner.model.load(average)
    }

    /// The fit ends with the average in the model (when it validated): it is what the last epoch was scored with.
    public func afterFit(_ learner: Learner) throws { trained = nil }

    /// The average at the interrupted epoch's start (`average.*`), for the interrupt checkpoint.
    public func checkpointEntries() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: epochStartAverage.map { ("average.\($0.key)", $0.value) })
    }

    /// Takes up the average stored by ``checkpointEntries()`` (nothing when the checkpoint has none).
    public func resume(from url: URL) throws {
        let (tensors, _) = try Learner.readCheckpoint(url)
        let stored = tensors.filter { $0.key.hasPrefix("average.") }
        average = Dictionary(uniqueKeysWithValues: stored.map { (String($0.key.dropFirst(8)), $0.value) })
    }

    static func copy(_ state: [String: Tensor]) throws -> [String: Tensor] {
        try state.mapValues { try $0.clone().detached() }
    }
}
