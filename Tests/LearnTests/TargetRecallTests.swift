import Foundation
import Learn
import Testing

/// `--target-recall`: one recall for every label, or per label, read from flags and files and used by each label's
/// threshold.
@Suite struct TargetRecallTests {
    @Test func parsesOneRecallOrOnePerLabel() throws {
        #expect(TargetRecall(text: "0.9") == TargetRecall(all: 0.9))
        let per = try #require(TargetRecall(text: "defective=0.95, mono = 0.8"))
        #expect(per.labels == ["defective": 0.95, "mono": 0.8] && per.all == nil)
        #expect(per.recall(for: "defective") == 0.95 && per.recall(for: "poly") == nil)
        let mixed = try #require(TargetRecall(text: "defective=0.95,0.7"))
        #expect(mixed.recall(for: "poly") == 0.7 && mixed.recall(for: "defective") == 0.95)
        for bad in ["", "high", "a=", "=0.9", "a=0.9,a=0.8", "0.9,0.8", "a=x"] {
            #expect(TargetRecall(text: bad) == nil, "\(bad)")
        }
    }

    /// Files written before per-label recalls hold a number; per-label ones are written as the flag's text.
    @Test func readsAndWritesNumbersAndText() throws {
        struct Options: Codable, Equatable { var targetRecall: TargetRecall? }
        let old = try JSONDecoder().decode(Options.self, from: Data(#"{"targetRecall":0.9}"#.utf8))
        #expect(old.targetRecall == 0.9)
        #expect(String(decoding: try JSONEncoder().encode(old), as: UTF8.self) == #"{"targetRecall":0.9}"#)
        let per = Options(targetRecall: TargetRecall(all: 0.5, labels: ["mono": 0.8, "defective": 0.95]))
        let text = String(decoding: try JSONEncoder().encode(per), as: UTF8.self)
        #expect(text == #"{"targetRecall":"0.5,defective=0.95,mono=0.8"}"#)
        #expect(try JSONDecoder().decode(Options.self, from: Data(text.utf8)) == per)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(Options.self, from: Data(#"{"targetRecall":"most"}"#.utf8))
        }
    }

    /// Each label named gets the threshold that keeps its recall; a label not named keeps the goal (F1 here).
    @Test func eachNamedLabelKeepsItsRecall() {
        // Two labels, the same scores: positives spread over 0.3…0.9, negatives over 0.1…0.5.
        var probabilities: [[Double]] = [], truth: [[Bool]] = []
        for i in 0..<40 {
            let positive = i % 2 == 0
            let p = positive ? 0.3 + Double(i) / 40 * 0.6 : 0.1 + Double(i) / 40 * 0.4
            probabilities.append([p, p])
            truth.append([positive, positive])
        }
        let fit = LabelCalibration.fit(
            probabilities: probabilities, truth: truth, goal: .f1, targetRecall: TargetRecall(text: "a=1.0"),
            names: ["a", "b"])
        #expect(fit.labels[0].thresholdRule?.hasPrefix("recall ≥") == true && fit.labels[1].thresholdRule == "f1")
        let thresholds = fit.thresholds
        // Every positive of label a is above its threshold: recall 1.
        let calibrated = probabilities.map(fit.apply)
        #expect(zip(calibrated, truth).allSatisfy { !$1[0] || $0[0] >= thresholds[0] })
    }
}
