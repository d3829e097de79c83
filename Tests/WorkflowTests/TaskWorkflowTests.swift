import Foundation
import Learn
import Testing
import Torch
import Vision

@testable import Workflow

/// Each task's side of the workflow, asked directly: the calibration it fits and stores, the scores it gives a
/// set, its split and what `review` asks of it. The runs in `TrainingRunTests` and `MultiLabelRunTests` go through
/// the same calls end to end.
@Suite("The tasks' workflow")
struct TaskWorkflowTests {
    /// 60 photos: a probability per class (or label) that leans towards the truth, with some mistakes.
    func photos(classes: Int, multiLabel: Bool) -> (probabilities: [[Double]], truth: [[Bool]]) {
        var rng = SeededRandom(seed: 7)
        var probabilities: [[Double]] = [], truth: [[Bool]] = []
        for i in 0..<60 {
            let row: [Bool] =
                multiLabel ? (0..<classes).map { ($0 + i) % 3 != 0 } : (0..<classes).map { $0 == i % classes }
            let noisy = row.map { Double.random(in: 0...0.6, using: &rng) + ($0 ? 0.4 : 0) }
            let sum = noisy.reduce(0, +)
            probabilities.append(multiLabel ? noisy.map { min(0.99, $0) } : noisy.map { $0 / sum })
            truth.append(row)
        }
        return (probabilities, truth)
    }

    @Test func aSingleLabelModelStoresItsTemperatureAndDecidesOneClass() throws {
        let (p, truth) = photos(classes: 2, multiLabel: false)
        let options = TrainOptions(data: "d", out: "o")
        let fitted = try SingleLabelTask().fitCalibration(
            plain: p, tta: nil, truth: truth, classes: ["a", "b"], options: options)
        let labels = truth.map { $0[1] ? 1 : 0 }
        let direct = Calibration.fit(probabilities: p, labels: labels, goal: options.decisionGoal)
        #expect(fitted.key == "calibration" && fitted.thresholds.isEmpty)
        let stored = try JSONDecoder().decode(ModelCalibration.self, from: Data(fitted.json.utf8))
        #expect(stored == ModelCalibration(plain: direct, tta: nil))
        for row in p {
            let decided = fitted.decide(fitted.apply(row))
            #expect(decided.filter { $0 }.count == 1 && decided[direct.decide(direct.apply(row))])
        }
        // The summary gives the log loss the fit lowered, before and after.
        let summary = fitted.summary(p, truth)
        let before = Metrics.logLoss(probabilities: p, labels: labels)
        let after = Metrics.logLoss(probabilities: p.map(direct.apply), labels: labels)
        #expect(summary.hasPrefix("calibration: temperature") && after <= before)
        #expect(summary.contains(String(format: "log loss %.3f → %.3f", before, after)), "\(summary)")
    }

    @Test func aMultiLabelModelStoresEachLabelsThresholdAndDecidesEachLabel() throws {
        let (p, truth) = photos(classes: 3, multiLabel: true)
        let options = TrainOptions(data: "d", out: "o")
        let task = MultiLabelTask()
        let fitted = try task.fitCalibration(
            plain: p, tta: p, truth: truth, classes: ["x", "y", "z"], options: options)
        let direct = LabelCalibration.fit(
            probabilities: p, truth: truth, goal: options.decisionGoal, names: ["x", "y", "z"])
        let stored = try JSONDecoder().decode(ModelLabelCalibration.self, from: Data(fitted.json.utf8))
        #expect(fitted.key == ModelLabelCalibration.metadataKey && stored == .init(plain: direct, tta: direct))
        #expect(fitted.thresholds == direct.thresholds)
        #expect(p.map { fitted.decide(fitted.apply($0)) } == p.map { direct.decide(direct.apply($0)) })

        // The headline: exact match, and the mean ROC AUC over labels.
        let score = SetScore(
            scoring: p, items: [], truth: truth, calibration: fitted, task: task, name: "validation")
        let exact = Double(zip(score.decided, truth).filter { $0 == $1 }.count) / 60
        let scores = try #require(score.labelScores)
        #expect(score.names.accuracy == "exact match" && abs(score.accuracy - exact) < 1e-12)
        #expect(abs(score.rocAUC - scores.labels.map(\.rocAUC).reduce(0, +) / 3) < 1e-12)
    }

    @Test func aSingleLabelSetScoresItsAccuracyAtTheDecidedClass() throws {
        // Four photos of two classes; the calibration is the identity (T = 1, threshold 0.5).
        let p = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]]
        let truth = [[true, false], [false, true], [false, true], [false, true]]
        let fitted = FittedCalibration(
            key: "calibration", json: "{}", apply: { $0 }, decide: { $0[1] >= 0.5 ? [false, true] : [true, false] },
            thresholds: [], summary: { _, _ in "" })
        let score = SetScore(
            scoring: p, items: [], truth: truth, calibration: fitted, task: SingleLabelTask(), name: "validation")
        #expect(score.accuracy == 0.75 && score.labels == [0, 1, 1, 1])
        // Positives 0.7, 0.4, 0.8 against the negative's 0.1: every pair ranked right.
        #expect(score.rocAUC == 1 && score.names == ScoreNames(accuracy: "accuracy", rocAUC: "ROC AUC"))
    }

    @Test func eachTaskStratifiesItsSplit() throws {
        let url = URL(fileURLWithPath: "/x.jpg")
        let classes = ImageDataset(
            items: (0..<50).map { ImageItem(url: url, name: "\($0)", label: $0 < 10 ? 1 : 0) }, classes: ["a", "b"])
        let split = try SingleLabelTask().split(classes, fraction: 0.2, seed: 1)
        #expect(split.valid.count == 10 && split.valid.filter { $0 < 10 }.count == 2)
        // A rare label (6 of 60 photos) on both sides; an iterative split keeps its share.
        let sets = ImageDataset(
            items: (0..<60).map { i in
                ImageItem(url: url, name: "\(i)", label: nil, labelSet: i < 6 ? [0, 1] : i % 2 == 0 ? [1] : [])
            }, classes: ["rare", "common"], isMultiLabel: true)
        let labelSplit = try MultiLabelTask().split(sets, fraction: 0.2, seed: 1)
        let rareHeld = labelSplit.valid.filter { $0 < 6 }.count
        #expect((1...2).contains(rareHeld) && Set(labelSplit.train + labelSplit.valid).count == 60)
        // Each photo's rarest label; a photo without labels gets the label count.
        #expect(try MultiLabelTask().stratificationLabels(sets).prefix(8) == [0, 0, 0, 0, 0, 0, 1, 2])
    }

    @Test func reviewAsksEachTaskHowUnsureAndHowWrong() throws {
        let single = SingleLabelTask(), multi = MultiLabelTask()
        #expect(abs(single.disagreement([0.2, 0.8], given: [0]) - 0.8) < 1e-12)
        #expect(abs(multi.disagreement([0.2, 0.8, 0.5], given: [0, 1]) - 0.8) < 1e-12)
        // Gaps 0.9, 0.2, 0.95 and 0.8: photos 2, 0 and 3 are suspects, the largest gap first.
        let suspects = multi.suspects(
            [[0.1, 0.9], [0.8, 0.2], [0.05, 0.5], [0.2, 0.6]], labels: [[0], [0], [0], [0]], classCount: 2)
        #expect(suspects == [2, 0, 3])
        let targets = try multi.targets([[1], [], [0, 1]], classCount: 2)
        let rows = try targets.floats()
        #expect(targets.shape == [3, 2] && rows == [0, 1, 0, 0, 1, 1])
        #expect(try single.targets([[1], [0]], classCount: 2).shape == [2])
    }
}
