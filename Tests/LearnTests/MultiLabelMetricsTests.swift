import Foundation
import TestSupport
import Testing

@testable import Learn

/// Multi-label scores against scikit-learn's on 60 photos and 4 labels, ties and a photo without labels included
/// (`scripts/fixtures/multilabel.py` writes the fixture; CI only reads it).
@Suite("Multi-label metrics")
struct MultiLabelMetricsTests {
    struct Fixture: Decodable {
        var labels: [[Int]]
        var probabilities: [[Double]]
        var thresholds: [Double]
        var precision: [Double]
        var recall: [Double]
        var f1: [Double]
        var rocAuc: [Double]
        var averagePrecision: [Double]
        var macroF1: Double
        var microF1: Double
        var meanAveragePrecision: Double
        var exactMatch: Double
        var accuracyMulti: Double
    }

    /// The fixture's keys are Python's.
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }()

    @Test func scoresEqualScikitLearns() throws {
        let url = Fixtures.folder.appendingPathComponent("multilabel_metrics.json")
        let f = try Self.decoder.decode(Fixture.self, from: Data(contentsOf: url))
        let s = try MultiLabelScores(
            probabilities: f.probabilities, labels: f.labels.map { $0.map { $0 == 1 } }, thresholds: f.thresholds)
        func close(_ a: [Double], _ b: [Double]) -> Bool {
            a.count == b.count && zip(a, b).allSatisfy { abs($0 - $1) < 1e-12 }
        }
        #expect(close(s.labels.map(\.precision), f.precision), "\(s.labels.map(\.precision))")
        #expect(close(s.labels.map(\.recall), f.recall) && close(s.labels.map(\.f1), f.f1))
        #expect(close(s.labels.map(\.rocAUC), f.rocAuc), "\(s.labels.map(\.rocAUC))")
        #expect(close(s.labels.map(\.averagePrecision), f.averagePrecision), "\(s.labels.map(\.averagePrecision))")
        #expect(abs(s.macroF1 - f.macroF1) < 1e-12 && abs(s.microF1 - f.microF1) < 1e-12)
        #expect(abs(s.meanAveragePrecision - f.meanAveragePrecision) < 1e-12)
        #expect(abs(s.exactMatch - f.exactMatch) < 1e-12 && abs(s.accuracyMulti - f.accuracyMulti) < 1e-12)
    }

    /// A label no photo has: no average precision, and it is left out of the mean.
    @Test func aLabelWithoutPositives() throws {
        let s = try MultiLabelScores(
            probabilities: [[0.9, 0.1], [0.2, 0.3]], labels: [[true, false], [false, false]], thresholds: [0.5, 0.5])
        #expect(s.labels[1].averagePrecision.isNaN && s.meanAveragePrecision == 1 && s.exactMatch == 1)
        // A diverged model's NaN scores end (they hung the ranking once), and rows of the wrong length are refused.
        #expect(MultiLabelScores.averagePrecision(scores: [.nan, 0.4, .nan], positives: [true, false, true]).isFinite)
        #expect(throws: LearnError.self) {
            try MultiLabelScores(probabilities: [[0.1]], labels: [[true, false]], thresholds: [0.5, 0.5])
        }
    }
}
