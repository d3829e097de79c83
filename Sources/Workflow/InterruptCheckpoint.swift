import Foundation
import Learn
import Torch

/// Turns Ctrl-C (or SIGTERM) during training into "save a checkpoint, say how to resume, stop".
/// Install it with ``Interrupts/whileRunning(onFirstSignal:_:)`` passing ``request(_:)``; a second signal
/// quits at once (see ``Interrupts``).
///
/// The checkpoint holds the state at the start of the interrupted epoch (``EpochStartSnapshots``) and the best
/// epoch so far (``KeepBest``) and the weight average at that epoch's start (``WeightAveraging``), so `--resume`
/// trains that epoch again and ends where an uninterrupted run would.
public final class InterruptCheckpoint: Callback, @unchecked Sendable {
    let url: URL
    let resumeHint: String
    let snapshots: EpochStartSnapshots
    let keepBest: KeepBest?
    let averaging: WeightAveraging?
    /// The signal that asked for a checkpoint (nil: none yet).
    private let requested = Locked<Int32?>(nil)
    public var order: Int { 90 }
    /// Whether this process writes the checkpoint: in data-parallel training only rank 0 does.
    public var saves = true
    /// In data-parallel training, the callback through which the ranks agree on the step to stop after
    /// (each rank stopping at its own Ctrl-C would leave the others waiting for its gradients).
    public var agreement: DataParallel?

    /// `@unchecked Sendable`: only ``request(_:)`` runs on another thread, and it touches only the mutex.
    public init(
        saveTo url: URL, resumeHint: String, snapshots: EpochStartSnapshots, keepBest: KeepBest?,
        averaging: WeightAveraging? = nil
    ) {
        self.url = url
        self.resumeHint = resumeHint
        self.snapshots = snapshots
        self.keepBest = keepBest
        self.averaging = averaging
    }

    /// Asks for a checkpoint after the current batch (called from the signal handler's thread).
    @Sendable public func request(_ signal: Int32) {
        requested.withLock { $0 = signal }
        let key = signal == SIGINT ? "Ctrl-C" : "the signal"
        FileHandle.standardError.write(
            Data("\ninterrupted: saving a checkpoint after this batch (\(key) again to quit now)\n".utf8))
    }

    /// Whether a signal asked for a checkpoint.
    public var isRequested: Bool { requested.withLock { $0 != nil } }

    public func afterBatch(_ learner: Learner) throws {
        guard agreement?.stopAgreed ?? isRequested else { return }
        let signal = requested.withLock { $0 } ?? SIGINT  // agreed by the group without a signal here: as Ctrl-C
        guard saves else { throw InterruptedRun(savedHere: false, signal: signal) }
        var extra: (tensors: [String: Tensor], metadata: [String: String]) = keepBest?.checkpointEntries() ?? ([:], [:])
        extra.tensors.merge(averaging?.checkpointEntries() ?? [:]) { kept, _ in kept }
        try learner.saveCheckpoint(to: url, snapshot: snapshots.latest, extra: extra)
        let epoch = snapshots.latest?.position.map { " (it restarts \($0.phase) epoch \($0.epoch + 1))" } ?? ""
        FileHandle.standardError.write(
            Data("checkpoint saved to \(url.path)\(epoch)\nresume with: \(resumeHint)\n".utf8))
        throw InterruptedRun(signal: signal)
    }
}

/// Thrown after an interrupted run saved its checkpoint.
/// `quadrat` exits with 128 + ``signal`` (130 for Ctrl-C), as a shell reports a command stopped by a signal.
public struct InterruptedRun: Error, CustomStringConvertible {
    /// False on the ranks of data-parallel training other than 0, which saves the checkpoint.
    public var savedHere = true
    /// The signal that stopped the run (SIGINT or SIGTERM).
    public var signal: Int32 = SIGINT

    public init(savedHere: Bool = true, signal: Int32 = SIGINT) { (self.savedHere, self.signal) = (savedHere, signal) }

    public var description: String {
        savedHere ? "training interrupted (checkpoint saved)" : "training interrupted (rank 0 saves the checkpoint)"
    }
}
