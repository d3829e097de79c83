import Foundation
import Learn
import TestSupport
import Testing
import Vision

@testable import Report

@Suite("Report: exploration statistics, charts and pages")
struct ReportTests {
    @Test func brightnessSummaryFindsClassesThatBrightnessSeparates() throws {
        #expect(
            abs(BrightnessSummary.meanLuma(RGBImage(width: 2, height: 1, pixels: [10, 20, 30, 10, 20, 30])) - 18.15)
                < 1e-9)
        // The generated set: class 1 is a bright background with a dark square, class 0 the opposite.
        let root = try makeKaggleDataSet(trainCount: 24, testCount: 1, size: 48)
        let dataset = try DataSource.labelled(root)
        let summary = BrightnessSummary.measure(dataset)
        #expect(summary.counts == [12, 12])
        #expect(summary.means[1] > summary.means[0] + 100)
        let difference = try #require(summary.largestDifference)
        #expect(difference.first == 0 && difference.second == 1 && difference.effect > 5)
        // Labels that cut across brightness (each class half dark, half bright): no notable difference.
        var mixed = dataset
        for i in mixed.items.indices { mixed.items[i].label = (Int(mixed.items[i].name) ?? 0) / 2 % 2 }
        let even = try #require(BrightnessSummary.measure(mixed).largestDifference)
        #expect(even.effect < BrightnessSummary.notableEffect, "\(even.effect)")
    }

    /// 1-2-5 steps with whole-tick ranges on linear axes, decades on log axes, labels without float noise.
    @Test func axesTickAtReadableNumbers() {
        let loss = Axis(0.0064, 0.247, log: false, widen: true)
        #expect(loss.ticks.map(loss.label) == ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25"])
        let epochs = Axis(1, 22, log: false, widen: false)
        #expect(epochs.ticks == [5, 10, 15, 20])
        let counts = Axis(0, 3, log: false, widen: true, integers: true)
        #expect(counts.ticks == [0, 1, 2, 3])
        let rates = Axis(1e-7, 3.2, log: true, widen: false)
        #expect(rates.ticks.map(rates.label) == ["1e-7", "1e-6", "1e-5", "1e-4", "0.001", "0.01", "0.1", "1"])
        // Under two decades, 2 and 5 join the decades.
        let narrow = Axis(0.01, 0.5, log: true, widen: true)
        #expect(narrow.ticks.map(narrow.label) == ["0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1"])
        #expect(Axis.niceStep(0.061) == 0.05 && Axis.niceStep(19) == 20 && Axis.niceStep(0.00035) == 0.0005)
    }

    /// The unknown section: the distances as a histogram whose axis reaches the thresholds, both marked, and the
    /// threshold in words; a model without the answer says so.
    @Test func unknownSectionShowsTheDistancesAndTheThreshold() {
        let distances = (0..<100).map { 0.05 + Double($0) / 1000 }
        var facts = UnknownFacts(
            validationDistances: distances, referenceCount: 500, unknownThreshold: 0.14, unknownRate: 0.05,
            driftThreshold: 0.2)
        let html = UnknownSection.html(facts)
        #expect(html.contains("beyond 0.1400, the distance 5 % of validation photos exceed"), "\(html)")
        #expect(html.contains(">unknown beyond</text>") && html.contains(">99 % of validation</text>"))
        #expect(html.contains("among 500 training photos") && html.components(separatedBy: "<rect").count > 10)
        (facts.unknownThreshold, facts.unknownRate) = (nil, nil)
        #expect(UnknownSection.html(facts).contains("answers no photo unknown"))
    }

    /// Marks whose labels would overlap go on different rows.
    @Test func markLabelsNeverCollide() {
        let svg = SVG.lineChart(
            [.init("loss", (1...60).map { (1e-6 * pow(10, Double($0) / 10), 1.0 / Double($0)) }, color: "#000")],
            title: "t", xLabel: "x", yLabel: "y", logX: true,
            marks: [(1e-3, "valley 1.0e-03"), (1.2e-3, "used 1.2e-03")])
        let rows = svg.components(separatedBy: "fill='#d62728'>").dropFirst().count
        #expect(rows == 2)
        #expect(svg.contains("y='42.0'") && svg.contains("y='55.0'"), "labels on rows 1 and 2")
    }

    /// Near the right edge a label ends at its line and reaches left: over a label that starts at a line before it
    /// (the report once printed "valley 5.2e-0min/10 6.1e-02"). It goes on the next row.
    @Test func marksNearTheRightEdgeDoNotCollide() {
        let svg = SVG.lineChart(
            [.init("loss", (1...60).map { (1e-6 * pow(10, Double($0) / 10), 1.0 / Double($0)) }, color: "#000")],
            title: "t", xLabel: "x", yLabel: "y", logX: true,
            marks: [(0.05, "valley 5.0e-02"), (0.9, "min/10 9.0e-01")])
        #expect(svg.contains("y='42.0'") && svg.contains("y='55.0'"), "labels on rows 1 and 2")
        #expect(svg.components(separatedBy: "text-anchor='end' class='tick' fill='#d62728'").count == 2)
        #expect(svg.contains("viewBox='0 0 530 300'"), "the chart scales with the page")
    }

    /// The summary leads with the held-out score, says what validation was used for, counts the decisions at the
    /// threshold, and explains the other accuracy only when the threshold serves another goal.
    @Test func summaryNamesEachSetAndLeadsWithTheHeldOutScore() throws {
        let items = (0..<4).map { ImageItem(url: URL(fileURLWithPath: "/x/\($0).jpg"), name: "\($0)", label: $0 % 2) }
        let p: [[Double]] = [[0.8, 0.2], [0.45, 0.55], [0.35, 0.65], [0.1, 0.9]]
        var validation = EvaluationInput(
            probabilities: p, items: items, classes: ["healthy", "invasive"],
            calibration: Calibration(temperature: 1, threshold: 0.5, thresholdRule: "accuracy"), heading: "v")
        validation.set = .validation
        var test = validation
        test.set = .heldOut("test/, test_labels.csv")
        // Decisions at 0.5: 0, 1, 1, 1 against labels 0, 1, 0, 1: 3 of 4.
        let both = try ReportBuilder.summary([test, validation], times: nil, run: RunFacts())
        let lead = try #require(both.range(of: "<p class='big'><b>Held-out test (test/, test_labels.csv)</b>"))
        let second = try #require(both.range(of: "<p class='second'><b>Validation</b>: accuracy <b>75.0%</b>"))
        #expect(lead.lowerBound < second.lowerBound)
        #expect(both.contains("also chose the epoch kept") && !both.contains("For an unbiased one"))
        #expect(both.contains("invasive when its calibrated probability is at least 0.500"))
        #expect(both.contains("With 4 photos the interval spans") && !both.contains("instead would score"))
        // Validation alone: the way to an unbiased figure. A Youden threshold of 0.6: decisions 0, 0, 1, 1 (2 of 4),
        // and the more probable class's 75 % explained in a sentence.
        validation.calibration = Calibration(temperature: 1, threshold: 0.6, thresholdRule: "youden")
        let alone = try ReportBuilder.summary([validation], times: nil, run: RunFacts())
        #expect(alone.contains("accuracy <b>50.0%</b>") && alone.contains("For an unbiased one"))
        #expect(alone.contains("Taking the more probable class instead would score 75.0%"))
    }

    @Test func lrFinderPageIsSelfContainedAndMarksTheSuggestions() {
        let rates = (0..<50).map { 1e-6 * pow(10, Double($0) / 7) }
        let losses = rates.map { 1 + pow(log10($0) + 3, 2) / 10 }
        let result = LRFinderResult(rates: rates, losses: losses, valley: 1e-3, steepest: 1e-4)
        let html = ReportBuilder.lrFinderPage(result, title: "finder <test>")
        #expect(html.hasPrefix("<!DOCTYPE html>") && html.hasSuffix("</html>"))
        #expect(html.contains("<svg") && html.contains("<polyline"))
        #expect(html.contains("finder &lt;test&gt;") && !html.contains("finder <test>"))
        #expect(html.contains("valley") && html.contains("steepest"))
        // Offline: no external assets.
        #expect(!html.contains("src='http") && !html.contains("src=\"http") && !html.contains("<link"))
    }
}
