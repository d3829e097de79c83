import Foundation

/// A counter shared by worker threads.
final class AtomicCounter: @unchecked Sendable {
    private var value = -1
    private let lock = NSLock()
    /// The next value (0, 1, 2, …).
    func increment() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
