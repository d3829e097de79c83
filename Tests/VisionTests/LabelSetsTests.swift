import Foundation
import TestSupport
import Testing

@testable import Vision

/// Several labels per photo: the vocabulary and counts of a tags column, photos without a label, and the problems
/// (a label used once, a row naming no photo, a photo named twice).
@Suite("Label sets of a multi-label CSV")
struct LabelSetsTests {
    @Test func vocabularyCountsAndProblems() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        let rows = [
            "1,mono defective", "2,mono", "3,poly defective", "4,poly", "5,", "6,mono;rust", "7,poly", "2,poly",
        ]
        try ("name,tags\n" + rows.joined(separator: "\n") + "\n").write(
            to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let sets = try LabelSets.read(data)
        #expect(sets.vocabulary == ["defective", "mono", "mono;rust", "poly"], "\(sets.vocabulary)")
        #expect(sets.items.map(\.name) == ["1", "2", "3", "4", "5", "6"])
        #expect(sets.counts == [2, 2, 1, 2] && sets.unlabelledCount == 1)
        #expect(sets.sets[0] == [0, 1] && sets.sets[4].isEmpty)
        let problems = sets.problems.map(\.description)
        #expect(problems.contains { $0.contains(":8") && $0.contains("names '7', no photo") }, "\(problems)")
        #expect(problems.contains { $0.contains(":9") && $0.contains("names the photo of line 3") }, "\(problems)")
        #expect(problems.contains { $0.contains(":7") && $0.contains("label 'mono;rust' is used by this photo only") })
        // Another delimiter splits the same cell otherwise: 'rust' is its own label, still used once.
        let semicolons = try LabelSets.read(data, delimiter: ";")
        #expect(semicolons.vocabulary.contains("rust") && semicolons.vocabulary.contains("mono defective"))
        // A column named in the header, or an error that lists the header.
        #expect(throws: DataProblem.self) { try LabelSets.read(data, labelColumn: "labels") }
    }
}
