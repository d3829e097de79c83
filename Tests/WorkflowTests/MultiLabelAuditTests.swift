import Foundation
import Learn
import TestSupport
import Testing
import Vision
import Workflow

@Suite("Label audit of multi-label data", .serialized)
struct MultiLabelAuditTests {
    /// 48 generated photos that plainly are bright or not: 4 of them have `bright` added or removed in the CSV on
    /// purpose. The one-vs-rest audit of `bright` ranks the 4 in its top 8 and flags only them; the CSV and the page
    /// list every label's verdicts. Also with `--group-by site` (sites of 4 photos, each kept in one fold); heads of
    /// 30 epochs, as 36 training photos make one batch an epoch.
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights), arguments: [false, true])
    func wrongLabelsOfOneLabelRiseToTheTop(bySite: Bool) throws {
        let data = try makeMultiLabelDataSet(trainCount: 48, testCount: 1, size: 48)
        let flipped: Set<Int> = [3, 10, 21, 34]
        var csv = bySite ? "name,tags,site\n" : "name,tags\n"
        for i in 1...48 {
            let bright = (i % 2 == 1) != flipped.contains(i), square = i % 4 < 2
            let tags = [bright ? "bright" : nil, square ? "square" : nil].compactMap { $0 }.joined(separator: " ")
            csv += "\(i),\(tags)" + (bySite ? ",s\((i - 1) / 4)\n" : "\n")
        }
        try csv.write(to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        var options = LabelAudit.Options()
        (options.size, options.folds, options.repeats, options.epochs) = (32, 4, 2, 30)
        if bySite { options.grouping = SplitGrouping(column: "site", keepCopiesTogether: false) }
        let outcomes = try LabelAudit(options: options).runLabels(LabelSets.read(data).dataset)
        #expect(outcomes.map(\.label) == ["bright", "square"])
        let bright = try #require(outcomes.first).outcome
        #expect(bright.items.count == 48 && bright.foldAccuracies.count == 8)
        let top = bright.verdicts.prefix(8).map { Int(bright.items[$0.index].name) ?? 0 }
        #expect(
            flipped.isSubset(of: Set(top)),
            "top 8: \(top) \(bright.verdicts.prefix(10).map { (bright.items[$0.index].name, $0.given, $0.selfConfidence) })"
        )
        let flagged = Set(bright.verdicts.filter(\.flagged).map { Int(bright.items[$0.index].name) ?? 0 })
        // What is flagged is mostly flips: on other kernels or thread counts the heads' numbers move a little, and a
        // photo at the edge of its label's threshold may join (seen once under parallel tests: one of five).
        let right = flagged.intersection(flipped).count
        #expect(right >= 2 && Double(right) >= 0.75 * Double(flagged.count), "flagged: \(flagged.sorted())")
        let summary = LabelAudit.labelSummary(outcomes)
        #expect(summary.count == 2 && summary[0].hasPrefix("bright (24 of 48 photos): out-of-fold accuracy"))
        let folder = data.appendingPathComponent("audit")
        try LabelAudit.writeLabelReport(outcomes, summary: summary, top: 8, title: "t", to: folder)
        let written = try String(contentsOf: folder.appendingPathComponent("audit.csv"), encoding: .utf8)
        #expect(written.hasPrefix("label,rank,name,file,given,suspected") && written.split(separator: "\n").count == 97)
        let page = try String(contentsOf: folder.appendingPathComponent("audit.html"), encoding: .utf8)
        #expect(page.contains("id='suspects-bright'") && page.contains("id='suspects-square'"))
    }
}
