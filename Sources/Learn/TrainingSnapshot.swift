import Foundation
import Torch

/// The training state at one moment: weights (BatchNorm statistics included), optimizer state, epochs done and
/// how much history there was. Taken at an epoch's start, it is what an interrupted epoch resumes from: the epoch
/// is trained again from its first batch with the same seeds, so the resumed run ends with the weights an
/// uninterrupted run would have.
public struct TrainingSnapshot {
    /// A phase of a recipe (``Recorder/phase``) and an epoch index within its fit.
    public struct Position: Equatable, Sendable {
        public var phase: String
        public var epoch: Int
        public init(phase: String, epoch: Int) {
            self.phase = phase
            self.epoch = epoch
        }
    }

    var model: [String: Tensor]
    var optimizer: [String: Tensor]
    var epochsDone: Int
    var baseRates: [Double]
    var stepCount: Int, epochCount: Int
    /// Where the snapshot sits in a fit (nil outside one).
    public var position: Position?

    /// The learner's state now; `copying` clones every tensor, so later training does not change the snapshot.
    init(of learner: Learner, copying: Bool) throws {
        func copy(_ t: Tensor) throws -> Tensor { copying ? try t.clone().detached() : t }
        model = try learner.model.stateDict().mapValues(copy)
        optimizer = try learner.optimizer.stateTensors().mapValues(copy)
        epochsDone = learner.epochsDone
        baseRates = learner.baseRates
        stepCount = learner.recorder.steps.count
        epochCount = learner.recorder.epochs.count
    }
}

/// Takes a ``TrainingSnapshot`` at the start of every epoch (about 50 MB for EfficientNet-Lite0 with AdamW, a few
/// milliseconds to copy), for ``Learner/saveCheckpoint(to:snapshot:extra:)`` when a run is interrupted.
public final class EpochStartSnapshots: Callback {
    public private(set) var latest: TrainingSnapshot?
    /// First among the callbacks, before anything in the epoch changes the model.
    public var order: Int { -100 }

    public init() {}

    public func beforeEpoch(_ learner: Learner) throws {
        var snapshot = try TrainingSnapshot(of: learner, copying: true)
        snapshot.position = .init(phase: learner.recorder.phase, epoch: learner.epochInFit)
        latest = snapshot
    }
}
