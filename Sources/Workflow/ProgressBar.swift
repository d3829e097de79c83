import Foundation
import Vision

/// Progress of long work on standard error: a bar with rate and ETA on a terminal,
/// a plain line every 10 % otherwise (logs, CI). Safe to advance from several threads.
public final class ProgressBar: ProgressTracker, @unchecked Sendable {
    public let label: String
    public let total: Int
    public let unit: String
    private var done = 0
    private var lastPrinted = -1.0
    private var lastDecile = -1
    private let start = Date()
    private let lock = NSLock()
    private let isTerminal = isatty(STDERR_FILENO) != 0

    public init(_ label: String, total: Int, unit: String = "img") {
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
    }

    public func advance(by n: Int) {
        lock.lock()
        defer { lock.unlock() }
        done += n
        let elapsed = Date().timeIntervalSince(start)
        if isTerminal {
            guard elapsed - lastPrinted > 0.1 || done >= total else { return }
            lastPrinted = elapsed
            FileHandle.standardError.write(Data(("\r" + line(elapsed: elapsed, bar: true)).utf8))
            if done >= total { FileHandle.standardError.write(Data("\n".utf8)) }
        } else {
            let decile = done * 10 / total
            guard decile > lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data((line(elapsed: elapsed, bar: false) + "\n").utf8))
        }
    }

    func line(elapsed: Double, bar: Bool) -> String {
        let fraction = min(1, Double(done) / Double(total))
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let width = 28
        let filled = Int(fraction * Double(width))
        let graphic =
            bar
            ? "[" + String(repeating: "=", count: filled) + String(repeating: " ", count: width - filled) + "] " : ""
        return "\(label) \(graphic)\(done)/\(total) " + String(format: "%.1f %@/s", rate, unit)
            + " ETA \(Feedback.clock(eta)) elapsed \(Feedback.clock(elapsed))"
    }
}
