/// SplitMix64: a small, fast PRNG with the same output on every machine and Swift version
/// (Swift's own random generators promise neither).
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// A generator for a sub-stream (`seed` mixed with `stream`), e.g. one per epoch or per image.
    public init(seed: UInt64, stream: UInt64) {
        var mixer = SeededRandom(seed: seed ^ (stream &* 0x9E37_79B9_7F4A_7C15))
        state = mixer.next()
    }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Uniform in `range`.
    public mutating func uniform(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + unit() * (range.upperBound - range.lowerBound)
    }

    /// Fisher–Yates with this generator only, so the order is the same everywhere.
    public mutating func permutation(_ n: Int) -> [Int] {
        var a = Array(0..<n)
        if n < 2 { return a }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            a.swapAt(i, j)
        }
        return a
    }

    /// `count` positions drawn with replacement from `labels` (class indices), every class equally likely and,
    /// within a class, every item: a class-balanced sampler's epoch. Classes without items are never drawn.
    public mutating func balancedDraw(labels: [Int], count: Int) -> [Int] {
        var members: [Int: [Int]] = [:]
        for (i, label) in labels.enumerated() { members[label, default: []].append(i) }
        let classes = members.keys.sorted()
        guard !classes.isEmpty else { return [] }
        return (0..<count).map { _ in
            let pool = members[classes[Int(next() % UInt64(classes.count))]] ?? []
            return pool[Int(next() % UInt64(pool.count))]
        }
    }
}
