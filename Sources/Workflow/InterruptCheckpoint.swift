import Foundation
import Learn
import Synchronization

/// Turns Ctrl-C (or SIGTERM) during training into "save a checkpoint, say how to resume, stop".
/// Install it with ``Interrupts/whileRunning(onFirstSignal:_:)`` passing ``request(_:)``; a second signal
/// quits at once (see ``Interrupts``).
public final class InterruptCheckpoint: Callback, Sendable {
    let url: URL
    let resumeHint: String
    private let requested = Mutex(false)
    public var order: Int { 90 }

    public init(saveTo url: URL, resumeHint: String) {
        self.url = url
        self.resumeHint = resumeHint
    }

    /// Asks for a checkpoint after the current batch (called from the signal handler's thread).
    @Sendable public func request(_ signal: Int32) {
        requested.withLock { $0 = true }
        let key = signal == SIGINT ? "Ctrl-C" : "the signal"
        FileHandle.standardError.write(
            Data("\ninterrupted: saving a checkpoint after this batch (\(key) again to quit now)\n".utf8))
    }

    public func afterBatch(_ learner: Learner) throws {
        guard requested.withLock({ $0 }) else { return }
        try learner.saveCheckpoint(to: url)
        FileHandle.standardError.write(Data("checkpoint saved to \(url.path)\nresume with: \(resumeHint)\n".utf8))
        throw InterruptedRun()
    }
}

/// Thrown after an interrupted run saved its checkpoint.
public struct InterruptedRun: Error, CustomStringConvertible {
    public var description: String { "training interrupted (checkpoint saved)" }
}
