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

    /// A folder of photos with its labels beside it (`test/` and `test_labels.csv`), or the CSV itself, as `evaluate`
    /// is given them; read against a model's labels, a photo with a label the model lacks is left out by line.
    @Test func aTestFolderWithItsLabelsBesideIt() throws {
        let data = try makeMultiLabelDataSet(trainCount: 8, testCount: 4, size: 32)
        let folder = try LabelSets.read(data.appendingPathComponent("test"))
        let csv = try LabelSets.read(data.appendingPathComponent("test_labels.csv"))
        #expect(folder.items.count == 4 && folder.items == csv.items && folder.vocabulary == ["bright", "square"])
        let among = try LabelSets.read(data.appendingPathComponent("test")).dataset(among: ["bright"])
        #expect(among.items.map(\.name) == ["2", "3"] && among.isMultiLabel, "\(among.items.map(\.name))")
        #expect(
            among.problems.count == 2 && among.problems.allSatisfy { $0.line != nil && $0.message.contains("square") })
        let lonely = try Fixtures.temporaryFolder()
        #expect { try LabelSets.read(lonely) } throws: { "\($0)".contains("has no labels CSV") }
    }
}

/// Iterative stratification keeps every label's share in every fold far better than a random split, the rare label
/// included, and repeats with its seed.
@Suite("Iterative stratification")
struct IterativeStratificationTests {
    static func sets(seed: UInt64) -> [Set<Int>] {
        var rng = SeededRandom(seed: seed)
        let rates = [0.5, 0.3, 0.2, 0.1, 0.05, 0.035]
        return (0..<300).map { _ in Set(rates.indices.filter { rng.unit() < rates[$0] }) }
    }

    /// The largest distance of a fold's count of a label from its share, over labels and folds.
    static func worstDeviation(_ sets: [Set<Int>], fold: [Int], k: Int) -> Double {
        (0..<6).map { label -> Double in
            let total = Double(sets.filter { $0.contains(label) }.count)
            return (0..<k).map { f in
                abs(Double(sets.indices.filter { fold[$0] == f && sets[$0].contains(label) }.count) - total / Double(k))
            }.max() ?? 0
        }.max() ?? 0
    }

    @Test func everyLabelKeepsItsShare() {
        let sets = Self.sets(seed: 3)
        let fold = Split.iterativeFolds(sets: sets, labels: 6, folds: 5, seed: 42)
        #expect(fold.allSatisfy { (0..<5).contains($0) })
        let sizes = (0..<5).map { f in fold.filter { $0 == f }.count }
        #expect(sizes.allSatisfy { abs($0 - 60) <= 3 }, "\(sizes)")
        let iterative = Self.worstDeviation(sets, fold: fold, k: 5)
        var rng = SeededRandom(seed: 42)
        let random = rng.permutation(300).map { $0 % 5 }
        let byChance = Self.worstDeviation(sets, fold: random, k: 5)
        #expect(iterative <= 1.5 && iterative < byChance / 2, "iterative \(iterative), random \(byChance)")
        #expect(Split.iterativeFolds(sets: sets, labels: 6, folds: 5, seed: 42) == fold)
        // No photo, or folds below 2, or labels out of range: still a fold for every photo.
        #expect(Split.iterativeFolds(sets: [], labels: 3, folds: 5, seed: 1).isEmpty)
        #expect(
            Split.iterativeFolds(sets: [[0], [9], []], labels: 1, folds: 0, seed: 1).allSatisfy { (0..<2).contains($0) }
        )
        let (train, valid) = Split.iterative(sets: sets, labels: 6, fraction: 0.2, seed: 7)
        #expect(Set(train).isDisjoint(with: valid) && train.count + valid.count == 300 && abs(valid.count - 60) <= 3)
    }
}
