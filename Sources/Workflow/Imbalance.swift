/// The two answers to an imbalanced data set (ELPV is 31 % defective): weigh the rare classes more in the loss,
/// or show them more often.

/// `--class-weights`: how classes weigh in the training loss.
public enum ClassWeights: String, Codable, Sendable, CaseIterable {
    /// Every image weighs the same.
    case none
    /// Rare classes weigh more, each class the same in total (single-label); a label's positives weigh its negatives
    /// over its positives (multi-label). ``ClassificationTask/balancingWeights(counts:total:)`` computes them.
    case auto
}

/// `--sampler`: how each training epoch draws its images.
public enum Sampler: String, Codable, Sendable, CaseIterable {
    /// Every image once per epoch, in a seeded random order.
    case shuffle
    /// As many draws as images, with replacement, every class equally likely (``DataLoader/balanced``).
    case balanced
}
