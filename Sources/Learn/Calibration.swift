import Foundation

/// How far to trust a model's probabilities, and where to cut a binary decision.
///
/// Temperature scaling (Guo et al., 2017) is fitted on the validation set: probabilities are raised to 1/T and
/// renormalised, which on logits is softmax(z / T). Applied to the probabilities the model outputs (plain or the
/// TTA average), it keeps every ranking (accuracy and ROC AUC do not move) and fixes over- or under-confidence.
/// For two classes the fit may add a bias to the log-odds (Platt scaling: log-odds / T + b), when it explains the
/// validation set significantly better; the decision threshold on the second class's probability is chosen on the
/// same set.
public struct Calibration: Codable, Sendable, Equatable {
    /// Temperature (1: unchanged; above 1 softens over-confident probabilities).
    public var temperature: Double
    /// Two classes: added to the second class's log-odds after the temperature (nil: none). A model that scores one
    /// class too low everywhere needs it (on ELPV the fine-tuned model put defective cells' probabilities too low:
    /// the fitted bias, +0.57, moved 1.4 points of held-out accuracy), and no temperature can repair that. It keeps
    /// the ranking: the calibrated probability is still increasing in the model's.
    public var bias: Double?
    /// Binary models: predict the second class when its (calibrated) probability is at least this.
    public var threshold: Double?
    /// How the threshold was chosen: "accuracy" (0.5), "youden" (max TPR − FPR) or "recall ≥ R".
    public var thresholdRule: String?
    /// Why the temperature was not fitted, when it was not (it is then 1): the validation set was separated
    /// perfectly, so the likelihood keeps rising as the temperature falls and a fit only saturates the probabilities.
    public var temperatureNote: String?

    public init(temperature: Double = 1, bias: Double? = nil, threshold: Double? = nil, thresholdRule: String? = nil) {
        (self.temperature, self.bias, self.threshold, self.thresholdRule) = (
            temperature, bias, threshold, thresholdRule
        )
    }

    /// Fits the temperature (and, for two classes, the bias and the threshold) on `probabilities` with their true
    /// `labels`.
    /// The threshold serves `goal`: 0.5 on the calibrated probabilities for accuracy (the Bayes decision when they
    /// are calibrated, and the cut the headline accuracy is measured at), Youden's J for balanced accuracy, or, with
    /// `targetRecall`, the highest threshold whose recall of the second class is at least that.
    /// A validation set the model separates perfectly (every photo's true class scored highest) keeps T = 1: there
    /// the likelihood has no minimum, and the fit ran to its bound (T = 0.05 on 37 photos), pushing every
    /// probability to 0 or 1 and tying scores, which cost held-out ROC AUC (0.998 → 0.955).
    /// For two classes, the bias (``bias``) is kept only when it passes a likelihood-ratio test against the temperature
    /// alone (``biasEvidence``), so a few dozen photos do not move every decision on noise.
    public static func fit(
        probabilities: [[Double]], labels: [Int], goal: DecisionGoal = .accuracy, targetRecall: Double? = nil
    ) -> Calibration {
        let separated = isSeparated(probabilities: probabilities, labels: labels)
        var fit = Calibration(temperature: separated ? 1 : fitTemperature(probabilities: probabilities, labels: labels))
        if separated {
            fit.temperatureNote = "not fitted: the \(labels.count) validation photos are separated perfectly"
        } else if probabilities.first?.count == 2 {
            let platt = PlattScaling.fit(logOdds: probabilities.map(PlattScaling.logOdds), labels: labels)
            let gain = nll(probabilities, labels, temperature: fit.temperature) - platt.nll
            if 2 * Double(labels.count) * gain > biasEvidence {
                (fit.temperature, fit.bias) = (1 / platt.slope, platt.bias)
            }
        }
        if probabilities.first?.count == 2 {
            let scores = probabilities.map { fit.apply($0)[1] }
            let positives = labels.map { $0 == 1 }
            if let target = targetRecall {
                fit.threshold = thresholdForRecall(scores: scores, positives: positives, target: target)
                fit.thresholdRule = String(format: "recall ≥ %.2f", target)
            } else if goal == .balancedAccuracy {
                fit.threshold = youdenThreshold(scores: scores, positives: positives)
                fit.thresholdRule = "youden"
            } else if goal == .f1 {
                fit.threshold = bestF1Threshold(scores: scores, positives: positives)
                fit.thresholdRule = "f1"
            } else {
                fit.threshold = 0.5
                fit.thresholdRule = "accuracy"
            }
        }
        return fit
    }

    /// "T = 1.03" or, with a bias, "T = 1.24, bias +0.57".
    public var parameterText: String {
        String(format: "T = %.2f", temperature) + (bias.map { String(format: ", bias %+.2f", $0) } ?? "")
    }

    /// The threshold as every page and command prints it: three decimals ("0.500").
    public static func thresholdText(_ threshold: Double) -> String { String(format: "%.3f", threshold) }

    /// What the threshold serves, in words: "accuracy (0.5 on calibrated probabilities)".
    public var ruleDescription: String {
        switch thresholdRule {
        case "accuracy": return "accuracy: the more probable class, after calibration"
        case "youden": return "balanced accuracy: Youden's J on validation"
        case "f1": return "the best F1 on validation"
        case let rule?: return rule + " on validation"
        case nil: return "the more probable class"
        }
    }

    /// The likelihood-ratio statistic (twice the log-likelihood gained on the validation set) a bias must exceed to be
    /// kept: the χ² quantile of one degree of freedom at 95 %.
    public static let biasEvidence = 3.84

    /// `p` with this temperature (and bias) applied.
    public func apply(_ p: [Double]) -> [Double] { Self.scaled(p, temperature: temperature, bias: bias ?? 0) }

    /// The model's own probabilities from calibrated ones: ``apply(_:)`` undone.
    public func uncalibrated(_ p: [Double]) -> [Double] {
        Self.scaled(Self.scaled(p, temperature: 1, bias: -(bias ?? 0)), temperature: 1 / temperature)
    }

    /// The class decided for calibrated probabilities `p`: the threshold for binary models, else the largest.
    public func decide(_ p: [Double]) -> Int {
        if let threshold, p.count == 2 { return p[1] >= threshold ? 1 : 0 }
        return Metrics.argmax(p)
    }

    /// p^(1/T), renormalised (probabilities of 0 stay 0); for two classes, `bias` is added to the second class's
    /// log-odds after the temperature.
    public static func scaled(_ p: [Double], temperature: Double, bias: Double = 0) -> [Double] {
        guard temperature != 1 || (bias != 0 && p.count == 2) else { return p }
        var logs = p.map { $0 > 0 ? Foundation.log($0) / temperature : -Double.infinity }
        if p.count == 2 { logs[1] += bias }
        let peak = logs.max() ?? 0
        let e = logs.map { $0.isFinite ? exp($0 - peak) : 0 }
        let sum = e.reduce(0, +)
        return e.map { $0 / sum }
    }

    /// Mean negative log-likelihood of the labels.
    static func nll(_ probabilities: [[Double]], _ labels: [Int], temperature: Double) -> Double {
        var total = 0.0
        for (p, l) in zip(probabilities, labels) {
            total -= Foundation.log(max(scaled(p, temperature: temperature)[l], 1e-12))
        }
        return total / Double(max(1, labels.count))
    }

    /// True when every photo's true class has the strictly highest probability (and there is at least one photo).
    public static func isSeparated(probabilities: [[Double]], labels: [Int]) -> Bool {
        !labels.isEmpty
            && zip(probabilities, labels).allSatisfy { p, l in p.indices.allSatisfy { $0 == l || p[$0] < p[l] } }
    }

    /// The fitted temperature's range. Below 1/2 a temperature more than squares the odds: only a validation set
    /// with (almost) no mistakes asks for that, and on a few dozen photos it is noise that saturates probabilities.
    public static let temperatureRange = 0.5...20.0

    /// The temperature with the lowest NLL within ``temperatureRange``: golden-section search on log T;
    /// NLL is convex in 1/T, so the search finds the minimum (or the bound nearest it).
    public static func fitTemperature(probabilities: [[Double]], labels: [Int]) -> Double {
        guard !labels.isEmpty else { return 1 }
        var (a, b) = (log(temperatureRange.lowerBound), log(temperatureRange.upperBound))
        let ratio = (5.0.squareRoot() - 1) / 2
        var c = b - ratio * (b - a), d = a + ratio * (b - a)
        var fc = nll(probabilities, labels, temperature: exp(c)), fd = nll(probabilities, labels, temperature: exp(d))
        for _ in 0..<60 {
            if fc < fd {
                (b, d, fd) = (d, c, fc)
                c = b - ratio * (b - a)
                fc = nll(probabilities, labels, temperature: exp(c))
            } else {
                (a, c, fc) = (c, d, fd)
                d = a + ratio * (b - a)
                fd = nll(probabilities, labels, temperature: exp(d))
            }
        }
        return exp((a + b) / 2)
    }

    /// One bin of a reliability diagram: the mean top-class confidence, the accuracy and the count in it.
    public struct Bin: Sendable {
        public var confidence: Double, accuracy: Double
        public var count: Int
    }

    /// The reliability diagram: top-class confidence in `bins` equal-width bins (empty bins left out).
    public static func reliability(probabilities: [[Double]], labels: [Int], bins: Int = 15) -> [Bin] {
        var sums = [(confidence: Double, correct: Double, count: Int)](repeating: (0, 0, 0), count: bins)
        for (p, l) in zip(probabilities, labels) {
            let top = Metrics.argmax(p), confidence = p[top]
            let b = min(bins - 1, Int(confidence * Double(bins)))
            sums[b].confidence += confidence
            sums[b].correct += top == l ? 1 : 0
            sums[b].count += 1
        }
        return sums.filter { $0.count > 0 }.map {
            Bin(confidence: $0.confidence / Double($0.count), accuracy: $0.correct / Double($0.count), count: $0.count)
        }
    }

    /// Expected calibration error: the count-weighted mean |accuracy − confidence| over the reliability bins.
    public static func expectedCalibrationError(probabilities: [[Double]], labels: [Int], bins: Int = 15) -> Double {
        let n = Double(max(1, labels.count))
        return reliability(probabilities: probabilities, labels: labels, bins: bins).reduce(0) {
            $0 + Double($1.count) / n * abs($1.accuracy - $1.confidence)
        }
    }

    /// The score threshold with the largest TPR − FPR (Youden's J); between tied scores, the midpoint.
    public static func youdenThreshold(scores: [Double], positives: [Bool]) -> Double {
        let pos = Double(positives.filter { $0 }.count), neg = Double(positives.count) - pos
        guard pos > 0, neg > 0 else { return 0.5 }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0.0, fp = 0.0, best = -1.0, threshold = 0.5
        for (k, i) in order.enumerated() {
            if positives[i] { tp += 1 } else { fp += 1 }
            // Cut only between distinct scores: everything at or above scores[i] is called positive.
            guard k + 1 == order.count || scores[order[k + 1]] != scores[i] else { continue }
            let j = tp / pos - fp / neg
            if j > best {
                best = j
                threshold = k + 1 < order.count ? (scores[i] + scores[order[k + 1]]) / 2 : scores[i]
            }
        }
        return threshold
    }

    /// The score threshold with the best F1 of the positives; between tied scores, the midpoint. 0.5 without a
    /// positive.
    public static func bestF1Threshold(scores: [Double], positives: [Bool]) -> Double {
        let pos = Double(positives.filter { $0 }.count)
        guard pos > 0 else { return 0.5 }
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        var tp = 0.0, fp = 0.0, best = -1.0, threshold = 0.5
        for (k, i) in order.enumerated() {
            if positives[i] { tp += 1 } else { fp += 1 }
            guard k + 1 == order.count || scores[order[k + 1]] != scores[i] else { continue }
            // F1 = 2 TP / (2 TP + FP + FN), with FN = positives − TP.
            let f1 = 2 * tp / (tp + fp + pos)
            if f1 > best {
                best = f1
                threshold = k + 1 < order.count ? (scores[i] + scores[order[k + 1]]) / 2 : scores[i]
            }
        }
        return threshold
    }

    /// The highest threshold that still calls at least `target` of the positives positive.
    public static func thresholdForRecall(scores: [Double], positives: [Bool], target: Double) -> Double {
        let positiveScores = zip(scores, positives).filter(\.1).map(\.0).sorted(by: >)
        guard !positiveScores.isEmpty else { return 0.5 }
        let needed = max(1, Int((target * Double(positiveScores.count)).rounded(.up)))
        return positiveScores[min(needed, positiveScores.count) - 1]
    }
}

/// What a binary model's decision threshold is chosen for (`train --decide-for`).
public enum DecisionGoal: String, Codable, Sendable, CaseIterable {
    /// The task's default: accuracy for single-label models, F1 for each label of a multi-label one.
    case auto
    /// The most decisions right: 0.5 on calibrated probabilities.
    case accuracy
    /// The best F1 of the positive class on validation (each label of a multi-label model).
    case f1
    /// The mean of the two classes' recalls (Youden's J): for classes of very different sizes, where missing the
    /// rare one costs more than accuracy counts it.
    case balancedAccuracy = "balanced-accuracy"
}

/// The calibrations a model file carries (metadata key `calibration`): one for plain predictions and one for
/// TTA, whose averaged probabilities are less extreme.
public struct ModelCalibration: Codable, Sendable, Equatable {
    public var plain: Calibration
    public var tta: Calibration?

    public init(plain: Calibration, tta: Calibration?) { (self.plain, self.tta) = (plain, tta) }
}

extension Metrics {
    /// Wilson score interval of a proportion (`successes` of `n`) at 95 % (z = 1.96): honest for small n and
    /// for proportions near 0 or 1, where the normal approximation is not.
    public static func wilsonInterval(successes: Int, of n: Int, z: Double = 1.96) -> (low: Double, high: Double) {
        guard n > 0 else { return (0, 1) }
        let p = Double(successes) / Double(n), nn = Double(n), z2 = z * z
        let centre = (p + z2 / (2 * nn)) / (1 + z2 / nn)
        let half = z / (1 + z2 / nn) * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot()
        return (max(0, centre - half), min(1, centre + half))
    }
}
