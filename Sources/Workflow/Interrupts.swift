import Dispatch
import Foundation
import Torch

/// Ctrl-C (SIGINT) and SIGTERM for the whole process.
///
/// While a job has said how to stop gracefully (``whileRunning(onFirstSignal:_:)``: training saves a checkpoint
/// after the current batch), the first signal asks it to; otherwise, and on a second signal, the process quits at
/// once: partial files being written are deleted and `_exit` skips the C++ static destructors, which would race
/// with loader threads still inside libtorch (that race corrupted the heap, issue 12).
public enum Interrupts {
    private struct State {
        var graceful: (@Sendable (Int32) -> Void)?
        var signalled = false
    }
    private static let state = Locked(State())
    // Dispatch sources must stay alive to keep firing; they are made once and never released.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []
    private static let installed = Locked(false)

    /// Routes SIGINT and SIGTERM here (idempotent).
    public static func install() {
        guard
            installed.withLock({ done in
                defer { done = true }
                return !done
            })
        else { return }
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            // Signals that arrive together are delivered as one event; `data` counts them.
            source.setEventHandler {  // the cycle with `source` is fine: sources live as long as the process
                for _ in 0..<max(1, source.data) { received(number) }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Runs `body` with `onFirstSignal` as the graceful stop for the first SIGINT or SIGTERM.
    public static func whileRunning<T>(
        onFirstSignal: @escaping @Sendable (Int32) -> Void, _ body: () throws -> T
    )
        rethrows -> T
    {
        state.withLock {
            $0.graceful = onFirstSignal
            $0.signalled = false
        }
        defer { state.withLock { $0.graceful = nil } }
        return try body()
    }

    /// The same around asynchronous work (a server until it stops).
    public static func whileRunning<T>(
        onFirstSignal: @escaping @Sendable (Int32) -> Void, _ body: () async throws -> T
    ) async rethrows -> T {
        state.withLock {
            $0.graceful = onFirstSignal
            $0.signalled = false
        }
        defer { state.withLock { $0.graceful = nil } }
        return try await body()
    }

    static func received(_ number: Int32) {
        var graceful: (@Sendable (Int32) -> Void)?
        state.withLock { state in
            if !state.signalled { graceful = state.graceful }
            state.signalled = true
        }
        if let graceful {
            graceful(number)
        } else {
            quitNow(number)
        }
    }

    /// Deletes partial files and exits with 128 + the signal number, as a shell reports a killed command.
    static func quitNow(_ number: Int32) -> Never {
        AtomicFile.removePartialFiles()
        FileHandle.standardError.write(Data("\nstopped (signal \(number))\n".utf8))
        fflush(nil)  // every C stream, standard output among them
        _exit(128 + number)
    }
}
