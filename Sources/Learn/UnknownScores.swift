import Foundation
import Torch
import Vision

/// How unlike the training photos a photo is, for a "none of these" answer: higher is stranger. Each score reads what
/// the trained model sees of the photo (its pooled body features, or its logits).
public enum UnknownScores {
    /// 1 − the highest class probability (the baseline every paper compares with); the probabilities are `task`'s
    /// (a multi-label model's: its most probable label's).
    public static func maxProbability(
        logits: Tensor, task: any ClassificationTask = SingleLabelTask()
    ) throws -> [Double] {
        try task.activate(logits.to(.float32)).max([1]).toArray(Float.self).map { 1 - Double($0) }
    }

    /// The negative free energy, −log Σ exp(logit) (Liu et al. 2020), negated so that higher is stranger.
    public static func energy(logits: Tensor) throws -> [Double] {
        let l = try logits.to(.float64)
        let top = try l.max([1], keepDim: true)
        let sum = try (l - top).exp().sum([1]).log() + top.flattened()
        return try sum.toArray(Double.self).map { -$0 }
    }
}

/// The Mahalanobis distance of a photo's pooled features to the nearest class mean, with one covariance shared by the
/// classes (Lee et al. 2018), fitted on training features. The covariance is shrunk towards a multiple of the
/// identity (``shrinkage``): with 1,280 features and a few thousand photos it is not well determined.
public struct MahalanobisScore: Sendable {
    /// The class means, whitened: one row per class.
    public var whitenedMeans: Tensor
    /// W with W Σ Wᵀ = I (the inverse of Σ's Cholesky factor).
    public var whitening: Tensor
    /// The share of the covariance replaced by its mean variance on the diagonal.
    public static let shrinkage = 0.1

    /// Fits the means and the shared covariance of `features` (one row per photo) by `labels` (0 ..< classes).
    public static func fit(features: Tensor, labels: [Int], classes: Int) throws -> MahalanobisScore {
        let (n, d) = (features.shape[0], features.shape[1])
        guard n == labels.count, n > classes else {
            throw LearnError("the unknown score needs more training photos than classes (\(n) for \(classes))")
        }
        let x = try features.to(.float64)
        // One-hot rows by class: the means are a matrix product, each row divided by its count.
        var oneHot = [Double](repeating: 0, count: classes * n)
        var counts = [Double](repeating: 0, count: classes)
        for (i, label) in labels.enumerated() {
            guard (0..<classes).contains(label) else {
                throw LearnError("the unknown score got label \(label) for \(classes) classes")
            }
            oneHot[label * n + i] = 1
            counts[label] += 1
        }
        let assignment = try Tensor(oneHot, shape: [classes, n])
        let means = try assignment.matmul(x) / Tensor(counts.map { Swift.max(1, $0) }, shape: [classes, 1])
        let centred = try x - assignment.transposed(0, 1).matmul(means)
        let covariance = try centred.transposed(0, 1).matmul(centred) / Double(n)
        let meanVariance = try (centred * centred).sum().item() / Double(n * d)
        var identity = [Double](repeating: 0, count: d * d)
        for i in 0..<d { identity[i * d + i] = 1 }
        let eye = try Tensor(identity, shape: [d, d])
        let shrunk = try covariance * (1 - shrinkage) + eye * (shrinkage * Swift.max(meanVariance, 1e-12))
        let whitening = try shrunk.cholesky().solveTriangular(eye)
        return MahalanobisScore(
            whitenedMeans: try means.matmul(whitening.transposed(0, 1)).contiguous(), whitening: whitening)
    }

    /// Each row's squared distance to the nearest class mean.
    public func scores(_ features: Tensor) throws -> [Double] {
        guard features.shape[0] > 0 else { return [] }
        let z = try features.to(.float64).matmul(whitening.transposed(0, 1))
        let zz = try (z * z).sum([1], keepDim: true)
        let mm = try (whitenedMeans * whitenedMeans).sum([1]).reshaped([1, whitenedMeans.shape[0]])
        let distances = try zz - z.matmul(whitenedMeans.transposed(0, 1)) * 2 + mm
        return try distances.min([1]).toArray(Double.self)
    }
}
