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

    @Test func ticksAreReadableNumbers() {
        #expect(SVG.tick(0) == "0")
        #expect(SVG.tick(0.25) == "0.25")
        #expect(SVG.tick(123.4) == "123")
        #expect(SVG.tick(3e-5) == "3.0e-05")
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
