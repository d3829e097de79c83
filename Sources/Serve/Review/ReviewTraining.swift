import Foundation

/// A full `quadrat train` started from the review page: a child process whose output lines are kept and streamed to
/// every page listening (server-sent events). Cancelling sends SIGINT, as Ctrl-C would: the run writes its
/// checkpoint and says how to resume.
final class ReviewTraining: @unchecked Sendable {
    /// Where the run stands.
    enum Phase: String, Codable, Sendable { case idle, running, finished, failed, cancelled }

    /// The run as `/api/train` answers it.
    struct Status: Codable, Sendable {
        var phase: Phase
        var run: String?
        var report: String?
        var lines: Int
    }

    private let lock = NSLock()
    private var lines: [String] = []
    private var phase = Phase.idle
    private var process: Process?
    private var out: URL?
    private var cancelled = false
    private var listeners: [UUID: AsyncStream<String>.Continuation] = [:]
    private var pending = Data()

    var status: Status {
        lock.withLock {
            let report = out?.appendingPathComponent("report.html")
            return Status(
                phase: phase, run: out?.path,
                report: phase == .finished && report.map { FileManager.default.fileExists(atPath: $0.path) } == true
                    ? "/run/report.html" : nil, lines: lines.count)
        }
    }

    /// The run's folder once one started.
    var runFolder: URL? { lock.withLock { out } }

    /// Starts `executable` with `arguments` writing into `out`; refuses while a run is going.
    func start(executable: URL, arguments: [String], out: URL) throws {
        try lock.withLock {
            guard phase != .running else { throw ReviewTrainingBusy() }
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                self?.received(handle.availableData)
            }
            process.terminationHandler = { [weak self] process in
                let training = self
                // The last output may still be in the pipe: give the reader a moment, then stop it. (Reading to the
                // end here could wait forever on a grandchild that holds the pipe open.)
                DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) {
                    pipe.fileHandleForReading.readabilityHandler = nil
                    training?.finished(status: process.terminationStatus)
                }
            }
            (lines, pending, cancelled, self.out) = (
                ["$ quadrat " + arguments.joined(separator: " ")], Data(), false, out
            )
            try process.run()
            // This process's copy of the write end: without closing it, the pipe would never report its end.
            try? pipe.fileHandleForWriting.close()  // already closed by Foundation on some platforms: nothing to do
            (self.process, phase) = (process, .running)
        }
    }

    /// Interrupts the run as Ctrl-C does.
    func cancel() {
        lock.withLock {
            guard phase == .running, let process else { return }
            cancelled = true
            kill(process.processIdentifier, SIGINT)
        }
    }

    /// Every line so far, then each new one until the run ends.
    func events() -> AsyncStream<String> {
        AsyncStream { continuation in
            let id = UUID()
            continuation.onTermination = { [weak self] _ in
                self?.lock.withLock { _ = self?.listeners.removeValue(forKey: id) }
            }
            let running = lock.withLock {
                for line in lines { continuation.yield(line) }
                if phase == .running { listeners[id] = continuation }
                return phase == .running
            }
            // Outside the lock, as in `finished(status:)`.
            if !running { continuation.finish() }
        }
    }

    /// Output bytes, cut into lines (a progress bar's carriage returns count as line ends).
    private func received(_ data: Data) {
        guard !data.isEmpty else { return }
        lock.withLock {
            pending.append(data)
            while let end = pending.firstIndex(where: { $0 == 10 || $0 == 13 }) {
                let line = String(decoding: pending[pending.startIndex..<end], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...end)
                guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                lines.append(line)
                for listener in listeners.values { listener.yield(line) }
            }
        }
    }

    private func finished(status: Int32) {
        let (line, ended) = lock.withLock {
            phase = cancelled ? .cancelled : status == 0 ? .finished : .failed
            let line = "[\(phase.rawValue)\(status == 0 ? "" : ", exit status \(status)")]"
            lines.append(line)
            defer { (listeners, process) = ([:], nil) }
            return (line, Array(listeners.values))
        }
        // Outside the lock: finishing a stream runs its termination handler, which takes the lock.
        for listener in ended {
            listener.yield(line)
            listener.finish()
        }
    }
}

/// A second run asked for while one is going.
struct ReviewTrainingBusy: Error, CustomStringConvertible {
    var description: String { "a training run is already going; cancel it first" }
}
