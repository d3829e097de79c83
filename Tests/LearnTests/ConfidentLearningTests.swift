import Foundation
import Learn
import Testing

@Suite struct ConfidentLearningTests {
    /// Six examples, worked by hand. Labelled 0: p0 = 0.9, 0.8, 0.1 → t0 = 0.6; labelled 1: p1 = 0.7, 0.9, 0.2 →
    /// t1 = 0.6. Example 2 (labelled 0, p1 = 0.9 ≥ t1) and example 5 (labelled 1, p0 = 0.8 ≥ t0) are off the
    /// diagonal; the others are on it.
    static let probabilities: [[Double]] = [
        [0.9, 0.1], [0.8, 0.2], [0.1, 0.9], [0.3, 0.7], [0.1, 0.9], [0.8, 0.2],
    ]
    static let labels = [0, 0, 0, 1, 1, 1]

    @Test func thresholdsAndTheConfidentJoint() {
        let t = ConfidentLearning.thresholds(probabilities: Self.probabilities, labels: Self.labels, classes: 2)
        #expect(abs(t[0] - 0.6) < 1e-12 && abs(t[1] - 0.6) < 1e-12)
        let joint = ConfidentLearning.confidentJoint(probabilities: Self.probabilities, labels: Self.labels, classes: 2)
        #expect(joint == [[2, 1], [1, 2]])
    }

    @Test func issuesAreTheOffDiagonalOnesMostSuspiciousFirst() {
        let verdicts = ConfidentLearning.audit(probabilities: Self.probabilities, labels: Self.labels, classes: 2)
        #expect(verdicts.filter(\.flagged).map(\.index) == [2, 5])  // self-confidence 0.1, then 0.2
        #expect(verdicts[0].suspected == 1 && verdicts[1].suspected == 0)
        #expect(abs(verdicts[0].margin - (0.1 - 0.9)) < 1e-12)
        // Unflagged ones follow, least self-confident first: example 3 (0.7).
        #expect(verdicts[2].index == 3 && !verdicts[2].flagged)
        let byMargin = ConfidentLearning.audit(
            probabilities: Self.probabilities, labels: Self.labels, classes: 2, ranking: .normalizedMargin)
        #expect(byMargin.prefix(2).map(\.index) == [2, 5])
    }

    /// An example below every threshold is not flagged (no confident class).
    @Test func anExampleWithNoConfidentClassIsNotFlagged() {
        let p: [[Double]] = [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9], [0.4, 0.3, 0.3]]
        let verdicts = ConfidentLearning.audit(probabilities: p, labels: [0, 1, 2, 1], classes: 3)
        #expect(verdicts.allSatisfy { !$0.flagged })
    }

    @Test func foldsAreStratifiedAndSeeded() {
        let labels = (0..<103).map { $0 % 3 == 0 ? 1 : 0 }  // 35 of class 1, 68 of class 0
        let folds = ConfidentLearning.folds(labels: labels, folds: 5, seed: 9)
        #expect(folds == ConfidentLearning.folds(labels: labels, folds: 5, seed: 9))
        #expect(folds != ConfidentLearning.folds(labels: labels, folds: 5, seed: 10))
        for f in 0..<5 {
            let ones = labels.indices.filter { folds[$0] == f && labels[$0] == 1 }.count
            let zeros = labels.indices.filter { folds[$0] == f && labels[$0] == 0 }.count
            #expect((7...7).contains(ones) && (13...14).contains(zeros), "fold \(f): \(ones) ones, \(zeros) zeros")
        }
    }
}
