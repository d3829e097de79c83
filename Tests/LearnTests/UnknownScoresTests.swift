import Foundation
import Testing
import Torch

@testable import Learn

/// The "none of these" scores against references computed here by hand.
@Suite("Unknown scores")
struct UnknownScoresTests {
    /// Two classes in two dimensions: the Mahalanobis score equals the squared distance to the nearest class mean
    /// under the shrunk shared covariance, inverted in closed form; a far point scores far higher than the data.
    @Test func mahalanobisMatchesTheClosedForm() throws {
        let points: [[Double]] = [
            [0, 0], [1, 0.5], [0.5, 1], [-0.5, 0.2], [4, 4], [5, 4.5], [4.5, 5], [3.6, 4.1],
        ]
        let labels = [0, 0, 0, 0, 1, 1, 1, 1]
        let score = try MahalanobisScore.fit(
            features: Tensor(points.flatMap { $0 }, shape: [8, 2]), labels: labels, classes: 2)
        // By hand: class means, the covariance of the centred rows, shrunk towards its mean variance.
        var means = [[Double]](repeating: [0, 0], count: 2)
        for (p, l) in zip(points, labels) { means[l] = zip(means[l], p).map { $0 + $1 / 4 } }
        let centred = zip(points, labels).map { p, l in zip(p, means[l]).map { $0 - $1 } }
        var cov = [[0.0, 0.0], [0.0, 0.0]]
        for c in centred { for i in 0..<2 { for j in 0..<2 { cov[i][j] += c[i] * c[j] / 8 } } }
        let alpha = MahalanobisScore.shrinkage, mean = (cov[0][0] + cov[1][1]) / 2
        let s = [
            [(1 - alpha) * cov[0][0] + alpha * mean, (1 - alpha) * cov[0][1]],
            [(1 - alpha) * cov[1][0], (1 - alpha) * cov[1][1] + alpha * mean],
        ]
        let det = s[0][0] * s[1][1] - s[0][1] * s[1][0]
        let inverse = [[s[1][1] / det, -s[0][1] / det], [-s[1][0] / det, s[0][0] / det]]
        func byHand(_ x: [Double]) -> Double {
            means.map { m in
                let d = [x[0] - m[0], x[1] - m[1]]
                return d[0] * (inverse[0][0] * d[0] + inverse[0][1] * d[1])
                    + d[1] * (inverse[1][0] * d[0] + inverse[1][1] * d[1])
            }.min() ?? .nan
        }
        let queries: [[Double]] = [[0.2, 0.4], [4.2, 4.6], [2, 2], [-6, 9]]
        let got = try score.scores(Tensor(queries.flatMap { $0 }, shape: [4, 2]))
        for (q, g) in zip(queries, got) {
            #expect(abs(g - byHand(q)) < 1e-9 * max(1, byHand(q)), "\(q): \(g) against \(byHand(q))")
        }
        #expect(got[3] > 10 * max(got[0], got[1]), "a far point scores far higher: \(got)")
    }

    /// Energy is −log Σ exp(logit); the max-probability score is 1 − the softmax's largest entry.
    @Test func energyAndMaxProbability() throws {
        let logits: [[Double]] = [[2, 0, -1], [100, 100, 100], [-3, 5, 0]]
        let tensor = try Tensor(logits.flatMap { $0 }, shape: [3, 3])
        let energy = try UnknownScores.energy(logits: tensor)
        let maxP = try UnknownScores.maxProbability(logits: tensor)
        for (row, (e, m)) in zip(logits, zip(energy, maxP)) {
            let sum = row.map { exp($0 - row.max()!) }.reduce(0, +)  // a literal row: never empty
            #expect(abs(e - -(log(sum) + row.max()!)) < 1e-9, "\(row)")
            #expect(abs(m - (1 - 1 / sum)) < 1e-6, "\(row)")
        }
    }
}
