import Foundation
import Vision

/// Progressive resizing (fastai's trick from the same course): the first epochs of a fit train on smaller
/// images, which is faster, the rest at full size. Validation always runs at full size. Give it to the
/// fit that should resize (the recipe passes it to the unfrozen phase only).
public final class ProgressiveResizing: Callback {
    /// The same images at the smaller size, and how many epochs train on them.
    public let small: BatchSource
    public let smallEpochs: Int
    private var full: BatchSource?
    public var order: Int { -20 }

    public init(small: BatchSource, smallEpochs: Int) {
        self.small = small
        self.smallEpochs = smallEpochs
    }

    public func beforeFit(_ learner: Learner) throws { full = learner.train }

    public func beforeEpoch(_ learner: Learner) throws {
        guard let full else { return }
        learner.train = learner.epochInFit < smallEpochs ? small : full
    }

    public func afterFit(_ learner: Learner) throws {
        if let full { learner.train = full }
    }

    /// The smaller size for a model input of `size`: three quarters, a multiple of 32.
    public static func smallSize(for size: Int) -> Int { max(32, Int((Double(size) * 0.75 / 32).rounded()) * 32) }
}
