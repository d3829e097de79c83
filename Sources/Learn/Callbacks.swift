import Foundation
import Torch

/// Hooks into the training loop (fastai's callbacks). Every method has a no-op default,
/// so a callback implements only the events it cares about. Callbacks run in `order`.
/// Throwing ``CancelBatch``, ``CancelEpoch`` or ``CancelFit`` skips the rest of that unit.
public protocol Callback: AnyObject {
    var order: Int { get }
    func beforeFit(_ learner: Learner) throws
    func beforeEpoch(_ learner: Learner) throws
    func beforeTrain(_ learner: Learner) throws
    func beforeBatch(_ learner: Learner) throws
    func afterPrediction(_ learner: Learner) throws
    func afterLoss(_ learner: Learner) throws
    func afterBackward(_ learner: Learner) throws
    func beforeBackward(_ learner: Learner) throws
    func beforeStep(_ learner: Learner) throws
    func afterStep(_ learner: Learner) throws
    func afterBatch(_ learner: Learner) throws
    func afterTrain(_ learner: Learner) throws
    func beforeValidate(_ learner: Learner) throws
    func afterValidate(_ learner: Learner) throws
    func afterEpoch(_ learner: Learner) throws
    func afterFit(_ learner: Learner) throws
    /// Called when a ``LoopCancellation`` ended `stage` early, before the stage's after-event.
    func afterCancel(_ stage: LoopStage, _ learner: Learner) throws
}

extension Callback {
    public var order: Int { 0 }
    public func beforeFit(_ learner: Learner) throws {}
    public func beforeEpoch(_ learner: Learner) throws {}
    public func beforeTrain(_ learner: Learner) throws {}
    public func beforeBatch(_ learner: Learner) throws {}
    public func afterPrediction(_ learner: Learner) throws {}
    public func afterLoss(_ learner: Learner) throws {}
    public func afterBackward(_ learner: Learner) throws {}
    public func beforeBackward(_ learner: Learner) throws {}
    public func beforeStep(_ learner: Learner) throws {}
    public func afterStep(_ learner: Learner) throws {}
    public func afterBatch(_ learner: Learner) throws {}
    public func afterTrain(_ learner: Learner) throws {}
    public func beforeValidate(_ learner: Learner) throws {}
    public func afterValidate(_ learner: Learner) throws {}
    public func afterEpoch(_ learner: Learner) throws {}
    public func afterFit(_ learner: Learner) throws {}
}

/// The nested stages of the training loop that callbacks hear about before and after.
public enum LoopStage: Sendable {
    case fit, epoch, train, validate, batch, backward, step
}

extension Callback {
    public func afterCancel(_ stage: LoopStage, _ learner: Learner) throws {}

    func before(_ stage: LoopStage, _ learner: Learner) throws {
        switch stage {
        case .fit: try beforeFit(learner)
        case .epoch: try beforeEpoch(learner)
        case .train: try beforeTrain(learner)
        case .validate: try beforeValidate(learner)
        case .batch: try beforeBatch(learner)
        case .backward: try beforeBackward(learner)
        case .step: try beforeStep(learner)
        }
    }

    func after(_ stage: LoopStage, _ learner: Learner) throws {
        switch stage {
        case .fit: try afterFit(learner)
        case .epoch: try afterEpoch(learner)
        case .train: try afterTrain(learner)
        case .validate: try afterValidate(learner)
        case .batch: try afterBatch(learner)
        case .backward: try afterBackward(learner)
        case .step: try afterStep(learner)
        }
    }
}

/// An error a callback throws to end one stage of the loop early; the loop goes on after that stage.
public protocol LoopCancellation: Error {
    var stage: LoopStage { get }
}

/// Skips the rest of the current batch (no backward or step).
public struct CancelBatch: LoopCancellation {
    public var stage: LoopStage { .batch }
    public init() {}
}
/// Skips the backward pass of the current batch (from `beforeBackward`): no gradients from it.
public struct CancelBackward: LoopCancellation {
    public var stage: LoopStage { .backward }
    public init() {}
}
/// Skips the optimizer step of the current batch (from `beforeStep`): its gradients are kept and add to the next
/// batch's, since they are zeroed only after a step.
public struct CancelStep: LoopCancellation {
    public var stage: LoopStage { .step }
    public init() {}
}
/// Ends the current epoch's training early; validation still runs.
public struct CancelTrain: LoopCancellation {
    public var stage: LoopStage { .train }
    public init() {}
}
/// Skips the current epoch's validation.
public struct CancelValidate: LoopCancellation {
    public var stage: LoopStage { .validate }
    public init() {}
}
/// Ends the current epoch (the rest of training and its validation).
public struct CancelEpoch: LoopCancellation {
    public var stage: LoopStage { .epoch }
    public init() {}
}
/// Ends the fit after the current event.
public struct CancelFit: LoopCancellation {
    public var stage: LoopStage { .fit }
    public let reason: String
    public init(_ reason: String = "") { self.reason = reason }
}

/// Sets each parameter group's learning rate (and momentum) before every batch from schedules
/// of the fit's position, times the group's base rate.
public final class ParameterScheduler: Callback {
    public let rate: Schedule
    public let momentum: Schedule?
    public var order: Int { -10 }

    public init(rate: @escaping Schedule, momentum: Schedule? = nil) {
        self.rate = rate
        self.momentum = momentum
    }

    public func beforeBatch(_ learner: Learner) throws {
        guard learner.isTraining else { return }
        let p = learner.position
        for g in learner.optimizer.groups.indices {
            learner.optimizer.groups[g].learningRate = learner.baseRates[min(g, learner.baseRates.count - 1)] * rate(p)
            if let momentum { learner.optimizer.groups[g].momentum = momentum(p) }
        }
    }
}

/// Stops a fit when the monitored metric has not improved for `patience` of its epochs. The best value carries over
/// from fit to fit (phase to phase), the count of epochs without improvement starts again with each.
public final class EarlyStopping: Callback {
    public let monitor: String, patience: Int, minimumDelta: Double
    private var best: Double?
    private var wait = 0
    /// After the epoch table (100) has printed the epoch and ``KeepBest`` (50) has seen it.
    public var order: Int { 120 }

    public init(monitor: String = "valid_loss", patience: Int = 3, minimumDelta: Double = 0) {
        self.monitor = monitor
        self.patience = patience
        self.minimumDelta = minimumDelta
    }

    public func beforeFit(_ learner: Learner) throws { wait = 0 }

    public func afterEpoch(_ learner: Learner) throws {
        guard let (value, higher) = learner.recorder.latest(monitor) else { return }
        if let best, higher ? value <= best + minimumDelta : value >= best - minimumDelta {
            wait += 1
            if wait >= patience { throw CancelFit("no improvement in \(monitor) for \(patience) epochs") }
        } else {
            best = value
            wait = 0
        }
    }
}

/// Saves the model whenever the monitored metric improves.
public final class SaveBest: Callback {
    public let monitor: String
    public let url: URL
    public private(set) var best: Double?

    public init(monitor: String = "valid_loss", to url: URL) {
        self.monitor = monitor
        self.url = url
    }

    public func afterEpoch(_ learner: Learner) throws {
        guard let (value, higher) = learner.recorder.latest(monitor) else { return }
        if best == nil || (higher ? value > best! : value < best!) {
            best = value
            try learner.saveCheckpoint(to: url)
        }
    }
}
