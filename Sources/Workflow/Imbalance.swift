/// The two answers to an imbalanced data set (ELPV is 31 % defective): weigh the rare classes more in the loss,
/// or show them more often.

/// `--class-weights`: how classes weigh in the training loss.
public enum ClassWeights: String, Codable, Sendable, CaseIterable {
    /// Every image weighs the same.
    case none
    /// Weight n / (classes × n_c) for class c: rare classes weigh more, each class the same in total.
    case auto

    /// The weights for the given class counts (nil for `none`).
    public func weights(counts: [Int]) -> [Double]? {
        guard self == .auto else { return nil }
        let n = Double(counts.reduce(0, +)), k = Double(counts.count)
        return counts.map { $0 > 0 ? n / (k * Double($0)) : 0 }
    }
}

/// `--sampler`: how each training epoch draws its images.
public enum Sampler: String, Codable, Sendable, CaseIterable {
    /// Every image once per epoch, in a seeded random order.
    case shuffle
    /// As many draws as images, with replacement, every class equally likely (``DataLoader/balanced``).
    case balanced
}
