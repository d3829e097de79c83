import Foundation

/// A value behind a lock, shared between threads: a class, so copies of a struct that holds one share the value
/// (``PresizeCache``'s fingerprint memo), and a plain pthread mutex underneath (`NSLock`).
public final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    public init(_ value: Value) { self.value = value }

    /// Runs `body` with the value while holding the lock.
    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
