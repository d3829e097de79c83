import Foundation

/// Platt scaling of a binary model's log-odds z: P(second class) = σ(slope · z + bias), fitted by maximum likelihood
/// on the validation set. The negative log-likelihood is convex in (slope, bias), so Newton's method with a
/// backtracking line search finds its minimum; the slope stays within 1 / ``Calibration/temperatureRange``, the bound
/// the temperature alone keeps. ``Calibration/fit(probabilities:labels:goal:targetRecall:)`` keeps the bias only when
/// it explains the set significantly better than the temperature alone.
struct PlattScaling {
    var slope: Double, bias: Double
    /// Mean negative log-likelihood of the labels at the fit.
    var nll: Double

    /// log(p₁ / p₀) of a two-class probability row, held within ±50 so that a probability of exactly 0 or 1 stays a
    /// number (σ(50) is 1 to double precision).
    static func logOdds(_ p: [Double]) -> Double {
        let z = Foundation.log(max(p[1], 1e-300)) - Foundation.log(max(p[0], 1e-300))
        return min(50, max(-50, z))
    }

    /// The maximum-likelihood slope and bias for log-odds `z` and labels (0 or 1). With a single class among the
    /// labels the likelihood has no minimum in the bias: the result is then the identity (slope 1, bias 0).
    static func fit(logOdds z: [Double], labels: [Int]) -> PlattScaling {
        let y = labels.map { Double($0 == 1 ? 1 : 0) }
        let slopes = (1 / Calibration.temperatureRange.upperBound)...(1 / Calibration.temperatureRange.lowerBound)
        guard y.contains(0), y.contains(1) else {
            return PlattScaling(slope: 1, bias: 0, nll: meanNLL(z, y, slope: 1, bias: 0))
        }
        var (a, b) = (1.0, 0.0)
        var current = meanNLL(z, y, slope: a, bias: b)
        for _ in 0..<100 {
            // Gradient and Hessian of the mean NLL: Σ (q − y)(z, 1) and Σ q(1 − q)(z, 1)(z, 1)ᵀ over n.
            var (ga, gb, haa, hab, hbb) = (0.0, 0.0, 0.0, 0.0, 0.0)
            for (zi, yi) in zip(z, y) {
                let q = sigmoid(a * zi + b), w = q * (1 - q)
                (ga, gb) = (ga + (q - yi) * zi, gb + (q - yi))
                (haa, hab, hbb) = (haa + w * zi * zi, hab + w * zi, hbb + w)
            }
            let n = Double(z.count)
            (ga, gb, haa, hab, hbb) = (ga / n, gb / n, haa / n + 1e-12, hab / n, hbb / n + 1e-12)
            let det = haa * hbb - hab * hab
            // Newton's direction, or the gradient's where the Hessian is (numerically) singular.
            var (da, db) = det > 1e-18 ? ((hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det) : (ga, gb)
            var improved = false
            for _ in 0..<40 {
                let (na, nb) = (min(slopes.upperBound, max(slopes.lowerBound, a - da)), b - db)
                let next = meanNLL(z, y, slope: na, bias: nb)
                if next < current {
                    (a, b, current, improved) = (na, nb, next, true)
                    break
                }
                (da, db) = (da / 2, db / 2)
            }
            if !improved || abs(da) + abs(db) < 1e-10 { break }
        }
        return PlattScaling(slope: a, bias: b, nll: current)
    }

    /// Mean of −log σ(±(slope · z + bias)), the sign by the label; log(1 + e^t) written so that it does not overflow.
    static func meanNLL(_ z: [Double], _ y: [Double], slope: Double, bias: Double) -> Double {
        func softplus(_ t: Double) -> Double { max(t, 0) + Foundation.log1p(exp(-abs(t))) }
        let total = zip(z, y).reduce(0.0) { sum, pair in
            let t = slope * pair.0 + bias
            return sum + (pair.1 == 1 ? softplus(-t) : softplus(t))
        }
        return total / Double(max(1, z.count))
    }

    static func sigmoid(_ t: Double) -> Double { 1 / (1 + exp(-t)) }
}
