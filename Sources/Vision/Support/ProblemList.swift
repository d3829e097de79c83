import Foundation

/// Problems collected by worker threads.
public final class ProblemList: @unchecked Sendable {
    private var items: [DataProblem] = []
    private let lock = NSLock()
    public init() {}
    public func append(_ p: DataProblem) {
        lock.lock()
        items.append(p)
        lock.unlock()
    }
    public var all: [DataProblem] {
        lock.lock()
        defer { lock.unlock() }
        return items
    }
}
