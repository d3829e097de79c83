import Dispatch
import Foundation
import Learn

/// Turns Ctrl-C during training into "save a checkpoint, say how to resume, stop".
/// A second Ctrl-C exits at once.
public final class InterruptCheckpoint: Callback, @unchecked Sendable {
    let url: URL
    let resumeHint: String
    private var requested = false
    private let lock = NSLock()
    private var source: DispatchSourceSignal?
    public var order: Int { 90 }

    public init(saveTo url: URL, resumeHint: String) {
        self.url = url
        self.resumeHint = resumeHint
        signal(SIGINT, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in
            guard let self else { return }
            self.lock.lock()
            let second = self.requested
            self.requested = true
            self.lock.unlock()
            if second { exit(130) }
            FileHandle.standardError.write(
                Data("\ninterrupted: saving a checkpoint after this batch (Ctrl-C again to quit now)\n".utf8))
        }
        source.resume()
        self.source = source
    }

    deinit {
        source?.cancel()
        signal(SIGINT, SIG_DFL)
    }

    var isRequested: Bool {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    public func afterBatch(_ learner: Learner) throws {
        guard isRequested else { return }
        try learner.saveCheckpoint(to: url)
        FileHandle.standardError.write(Data("checkpoint saved to \(url.path)\nresume with: \(resumeHint)\n".utf8))
        throw InterruptedRun()
    }
}

/// Thrown after an interrupted run saved its checkpoint.
public struct InterruptedRun: Error, CustomStringConvertible {
    public var description: String { "training interrupted (checkpoint saved)" }
}
