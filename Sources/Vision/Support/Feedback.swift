import Foundation

/// One piece of long work being counted (images decoded, batches trained…).
public protocol ProgressTracker: AnyObject, Sendable {
    /// Counts `n` more units done; safe to call from several threads.
    func advance(by n: Int)
}

extension ProgressTracker {
    /// Counts one more unit done.
    public func advance() { advance(by: 1) }
}

/// Where the library layers report progress and log lines. They show nothing by themselves: the
/// application decides (the `quadrat` CLI installs a terminal progress bar and standard output via
/// `Workflow`'s `Console.install()`). Tests and library users get silence unless they install something.
public enum Feedback {
    /// Makes a tracker for a label, a total and a unit ("img", "batch").
    public typealias Factory = @Sendable (_ label: String, _ total: Int, _ unit: String) -> ProgressTracker

    private static let lock = NSLock()
    nonisolated(unsafe) private static var factory: Factory?
    nonisolated(unsafe) private static var logger: (@Sendable (String) -> Void)?
    nonisolated(unsafe) private static var warner: (@Sendable (String) -> Void)?

    /// Installs where progress, log lines and warnings go (nil: nowhere).
    public static func install(
        factory: Factory?, logger: (@Sendable (String) -> Void)?, warner: (@Sendable (String) -> Void)? = nil
    ) {
        lock.lock()
        defer { lock.unlock() }
        self.factory = factory
        self.logger = logger
        self.warner = warner
    }

    /// A tracker for `total` units of work called `label`.
    public static func start(_ label: String, total: Int, unit: String = "img") -> ProgressTracker {
        lock.lock()
        let make = factory
        lock.unlock()
        return make?(label, total, unit) ?? Silent()
    }

    /// A line for the user (an epoch's results, a decision taken).
    public static func log(_ line: String) {
        lock.lock()
        let write = logger
        lock.unlock()
        write?(line)
    }

    /// A warning or a note on something left out (a photo skipped, a class missing from validation).
    public static func warn(_ line: String) {
        lock.lock()
        let write = warner
        lock.unlock()
        write?(line)
    }

    /// m:ss or h:mm:ss.
    public static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600
            ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    private final class Silent: ProgressTracker {
        func advance(by n: Int) {}
    }
}
