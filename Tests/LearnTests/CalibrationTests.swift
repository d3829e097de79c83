import Foundation
import Learn
import Testing
import Vision

@Suite struct CalibrationTests {
    /// Labels drawn from known probabilities, and a model that reports those probabilities cubed (renormalised):
    /// over-confident by a temperature of 3. Fitting recovers about 3 and lowers NLL and ECE.
    @Test func temperatureScalingRepairsAnOverconfidentModel() {
        var rng = SeededRandom(seed: 11)
        var honest: [[Double]] = [], labels: [Int] = []
        for _ in 0..<4000 {
            let p1 = Double(rng.next() % 1000) / 1000 * 0.8 + 0.1
            honest.append([1 - p1, p1])
            labels.append(Double(rng.next() % 10_000) / 10_000 < p1 ? 1 : 0)
        }
        let overconfident = honest.map { Calibration.scaled($0, temperature: 1.0 / 3) }
        let fit = Calibration.fit(probabilities: overconfident, labels: labels)
        #expect(abs(fit.temperature - 3) < 0.3, "fitted temperature \(fit.temperature)")
        let repaired = overconfident.map(fit.apply)
        let before = Metrics.logLoss(probabilities: overconfident, labels: labels)
        let after = Metrics.logLoss(probabilities: repaired, labels: labels)
        #expect(after < before - 0.05, "NLL \(before) → \(after)")
        let eceBefore = Calibration.expectedCalibrationError(probabilities: overconfident, labels: labels)
        let eceAfter = Calibration.expectedCalibrationError(probabilities: repaired, labels: labels)
        #expect(eceBefore > 0.08 && eceAfter < 0.03, "ECE \(eceBefore) → \(eceAfter)")
        // Rankings do not move: the same top class everywhere.
        #expect(zip(overconfident, repaired).allSatisfy { Metrics.argmax($0) == Metrics.argmax($1) })
    }

    /// A validation set separated perfectly (37 photos, as on a small Kaggle set) keeps T = 1 and says so: fitting
    /// it drove T to 0.05 and tied scores. Nearly separated sets stay within the bound, and scores stay distinct.
    @Test func perfectlySeparatedValidationKeepsTheTemperature() {
        let scores = (0..<37).map { 0.55 + 0.4 * Double($0) / 36 }
        let probabilities = scores.enumerated().map { i, s in i % 2 == 0 ? [s, 1 - s] : [1 - s, s] }
        let labels = (0..<37).map { $0 % 2 }
        let fit = Calibration.fit(probabilities: probabilities, labels: labels)
        #expect(fit.temperature == 1 && fit.temperatureNote?.contains("37 validation photos") == true)
        // One mistake: the likelihood has a minimum again, but not below the bound.
        var nearly = probabilities
        nearly[0] = [0.45, 0.55]
        let bounded = Calibration.fit(probabilities: nearly, labels: labels)
        #expect(bounded.temperatureNote == nil && bounded.temperature >= Calibration.temperatureRange.lowerBound)
        let calibrated = probabilities.map { bounded.apply($0)[1] }
        #expect(Set(calibrated).count == calibrated.count, "tied scores after calibration")
        #expect(Calibration.isSeparated(probabilities: probabilities, labels: labels))
        #expect(!Calibration.isSeparated(probabilities: [[0.5, 0.5]], labels: [1]))
    }

    /// Labels drawn from known log-odds t, and a model that reports (t − 1) × 0.8: it scores the second class too low
    /// everywhere (as ELPV's model did its defective cells) and a little over-confidently. A temperature alone cannot
    /// repair that; the fit recovers T ≈ 0.8 and the bias ≈ +1, gains accuracy at 0.5, keeps every ranking, and sits
    /// at the likelihood's minimum (a step in T or the bias either way costs).
    @Test func aBiasRepairsAModelThatScoresOneClassTooLow() {
        var rng = SeededRandom(seed: 5)
        var reported: [[Double]] = [], labels: [Int] = []
        for _ in 0..<4000 {
            let t = Double(rng.next() % 10_000) / 10_000 * 8 - 4
            labels.append(Double(rng.next() % 10_000) / 10_000 < 1 / (1 + exp(-t)) ? 1 : 0)
            let z = (t - 1) * 0.8
            reported.append([1 / (1 + exp(z)), 1 / (1 + exp(-z))])
        }
        let fit = Calibration.fit(probabilities: reported, labels: labels)
        let bias = fit.bias ?? .nan
        #expect(abs(fit.temperature - 0.8) < 0.08 && abs(bias - 1) < 0.15, "\(fit.parameterText)")
        let repaired = reported.map(fit.apply)
        let temperatureOnly = Calibration(
            temperature: Calibration.fitTemperature(probabilities: reported, labels: labels))
        let loss = Metrics.logLoss(probabilities: repaired, labels: labels)
        #expect(loss < Metrics.logLoss(probabilities: reported.map(temperatureOnly.apply), labels: labels) - 0.01)
        let decisions = { (p: [[Double]]) in p.map { $0[1] >= 0.5 ? 1 : 0 } }
        #expect(
            Metrics.accuracy(decisions: decisions(repaired), labels: labels)
                > Metrics.accuracy(decisions: decisions(reported), labels: labels) + 0.03)
        #expect(
            Metrics.rocAUC(probabilities: repaired, labels: labels)
                == Metrics.rocAUC(probabilities: reported, labels: labels))
        for (step, sign) in [(0.01, 1.0), (0.01, -1.0)] {
            let hotter = Calibration(temperature: fit.temperature * (1 + sign * step), bias: fit.bias)
            let shifted = Calibration(temperature: fit.temperature, bias: bias + sign * step)
            for moved in [hotter, shifted] {
                #expect(Metrics.logLoss(probabilities: reported.map(moved.apply), labels: labels) > loss)
            }
        }
        // Undone, the model's own probabilities come back.
        for (p, q) in zip(reported, repaired).prefix(50) {
            #expect(abs(fit.uncalibrated(q)[1] - p[1]) < 1e-9)
        }
        #expect(fit.parameterText.hasPrefix("T = 0.") && fit.parameterText.contains(", bias +"))
    }

    /// A calibrated model, or a few dozen photos whose imbalance may be chance, keeps no bias: the likelihood-ratio
    /// test asks for evidence. More than two classes never get one (it would reorder each class's scores).
    @Test func aBiasNeedsEvidence() {
        var rng = SeededRandom(seed: 9)
        var honest: [[Double]] = [], labels: [Int] = []
        for _ in 0..<2000 {
            let p1 = Double(rng.next() % 1000) / 1000 * 0.9 + 0.05
            honest.append([1 - p1, p1])
            labels.append(Double(rng.next() % 10_000) / 10_000 < p1 ? 1 : 0)
        }
        #expect(Calibration.fit(probabilities: honest, labels: labels).bias == nil)
        // 24 photos, two thirds of the positives scored just below 0.5: a shift would help, but not surely.
        let few = (0..<24).map { i in i % 2 == 0 ? [0.7, 0.3] : i % 3 == 0 ? [0.3, 0.7] : [0.55, 0.45] }
        let fewLabels = (0..<24).map { $0 % 2 }
        #expect(Calibration.fit(probabilities: few, labels: fewLabels).bias == nil)
        // The same pattern 40 times over is evidence.
        let many = Calibration.fit(
            probabilities: Array(repeating: few, count: 40).flatMap { $0 },
            labels: Array(repeating: fewLabels, count: 40).flatMap { $0 })
        #expect((many.bias ?? 0) > 0.1, "\(many.parameterText)")
        let three = Calibration.fit(probabilities: [[0.6, 0.3, 0.1], [0.5, 0.4, 0.1]], labels: [1, 1])
        #expect(three.bias == nil)
    }

    @Test func scalingByOneOrZeroProbabilitiesIsExact() {
        #expect(Calibration.scaled([0.2, 0.8], temperature: 1) == [0.2, 0.8])
        let sharpened = Calibration.scaled([0.2, 0.8], temperature: 0.5)  // p² renormalised: 0.04 / 0.68, 0.64 / 0.68
        #expect(abs(sharpened[0] - 0.04 / 0.68) < 1e-12 && abs(sharpened[1] - 0.64 / 0.68) < 1e-12)
        #expect(Calibration.scaled([0, 1], temperature: 2) == [0, 1])
        // A bias adds to the second class's log-odds: 0.2 / 0.8 (log-odds log 4) + log 4 → 16 : 1.
        let biased = Calibration.scaled([0.2, 0.8], temperature: 1, bias: log(4))
        #expect(abs(biased[1] - 16.0 / 17) < 1e-12 && Calibration.scaled([0, 1], temperature: 1, bias: -3) == [0, 1])
    }

    /// Scores 0.1 … 0.9 where the positives are 0.4 and above except 0.7: the cut between 0.3 and 0.4 gives
    /// TPR 5/5 − FPR 1/4 = 0.75, the best J.
    @Test func thresholdsByYoudenAndByRecall() {
        let scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
        let positives = [false, false, false, true, true, true, false, true, true]
        #expect(abs(Calibration.youdenThreshold(scores: scores, positives: positives) - 0.35) < 1e-12)
        // Recall ≥ 0.6 needs 3 of 5 positives: the third-highest positive score, 0.6.
        #expect(Calibration.thresholdForRecall(scores: scores, positives: positives, target: 0.6) == 0.6)
        let fit = Calibration(temperature: 1, threshold: 0.35)
        #expect(fit.decide([0.62, 0.38]) == 1 && fit.decide([0.7, 0.3]) == 0)
    }

    /// The threshold serves its goal: 0.5 for accuracy (the default, where the headline is measured), Youden's J for
    /// balanced accuracy, the recall target over both; all printed with three decimals.
    @Test func theThresholdServesTheChosenGoal() {
        let p = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map { [1 - $0, $0] }
        let labels = [0, 0, 0, 1, 1, 1, 0, 1, 1]
        let accuracy = Calibration.fit(probabilities: p, labels: labels)
        #expect(accuracy.threshold == 0.5 && accuracy.thresholdRule == "accuracy")
        let balanced = Calibration.fit(probabilities: p, labels: labels, goal: .balancedAccuracy)
        #expect(balanced.thresholdRule == "youden" && balanced.threshold != 0.5)
        let recall = Calibration.fit(probabilities: p, labels: labels, goal: .balancedAccuracy, targetRecall: 1)
        #expect(recall.thresholdRule == "recall ≥ 1.00")
        #expect(Calibration.thresholdText(0.49871) == "0.499" && Calibration.thresholdText(0.5) == "0.500")
        #expect(DecisionGoal(rawValue: "balanced-accuracy") == .balancedAccuracy)
    }

    /// Reference values from the formula evaluated independently (Python, double precision).
    @Test func wilsonIntervals() {
        let a = Metrics.wilsonInterval(successes: 8, of: 10)
        #expect(abs(a.low - 0.490157) < 1e-6 && abs(a.high - 0.943319) < 1e-6)
        let b = Metrics.wilsonInterval(successes: 37, of: 40)
        #expect(abs(b.low - 0.801355) < 1e-6 && abs(b.high - 0.974164) < 1e-6)
        let c = Metrics.wilsonInterval(successes: 0, of: 20)
        #expect(c.low == 0 && abs(c.high - 0.161130) < 1e-6)
    }
}
