import Foundation
import Learn
import TestSupport
import Testing
import Vision
import Workflow

@Suite("Label audit", .serialized)
struct LabelAuditTests {
    /// 40 generated photos whose class shows plainly (bright with a dark square, or the reverse), 4 of them
    /// labelled the other way on purpose: the audit ranks the 4 flipped ones in its top 8, and flags only flips;
    /// also with the features averaged over 3 symmetries, and with one split instead of the default 3 repeats.
    @Test(
        .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights), arguments: [(0, 3), (3, 3), (0, 1)])
    func flippedLabelsRiseToTheTop(views: Int, repeats: Int) throws {
        let flipped: Set<Int> = [3, 10, 21, 34]
        let data = try makeKaggleDataSet(trainCount: 40, testCount: 1, size: 48)
        var csv = "name,invasive\n"
        for i in 1...40 { csv += "\(i),\(flipped.contains(i) ? 1 - i % 2 : i % 2)\n" }
        try csv.write(to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let home = Fixtures.isolatedHome
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        var options = LabelAudit.Options()
        options.size = 32
        options.folds = 4
        options.views = views
        options.repeats = repeats
        let dataset = try DataSource.labelled(data)
        let outcome = try LabelAudit(options: options).run(dataset)
        #expect(outcome.probabilities.count == 40 && outcome.foldAccuracies.count == 4 * repeats)
        for p in outcome.probabilities { #expect(abs(p.reduce(0, +) - 1) < 1e-5) }
        let top = outcome.verdicts.prefix(8).map { Int(outcome.items[$0.index].name) ?? 0 }
        #expect(flipped.isSubset(of: Set(top)), "top 8: \(top)")
        let flagged = Set(outcome.verdicts.filter(\.flagged).map { Int(outcome.items[$0.index].name) ?? 0 })
        // What confident learning flags is right: flips only (with so few photos, not every flip passes its threshold).
        #expect(!flagged.isEmpty && flagged.isSubset(of: flipped), "flagged: \(flagged.sorted())")
        // Every photo was predicted by a head that never saw it: the out-of-fold accuracy counts the flips wrong.
        let csvText = LabelAudit.csv(outcome, classes: dataset.classes)
        #expect(csvText.split(separator: "\n").count == 41 && csvText.hasPrefix("rank,name,file,given,suspected"))
        // What `quadrat audit` prints and writes, as the library does it.
        let summary = LabelAudit.summary(outcome, folds: 4, repeats: repeats, predictions: nil)
        #expect(summary[0].hasPrefix("40 photos, 4 folds × \(repeats) repeats: out-of-fold accuracy"), "\(summary)")
        #expect(
            summary[1]
                == "\(flagged.count) photos flagged as likely label errors (\(String(format: "%.1f", 2.5 * Double(flagged.count)))%)"
        )
        let folder = data.appendingPathComponent("audit")
        try LabelAudit.writeReport(outcome, classes: dataset.classes, summary: summary, top: 8, title: "t", to: folder)
        #expect(try String(contentsOf: folder.appendingPathComponent("audit.csv"), encoding: .utf8) == csvText)
        let page = try String(contentsOf: folder.appendingPathComponent("audit.html"), encoding: .utf8)
        #expect(page.contains(summary[1]) && page.hasSuffix("</html>"))
    }
}
