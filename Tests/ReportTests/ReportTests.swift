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
