import Foundation
import Learn

/// The LR-finder chart and the training charts: losses, the rate schedule of every layer group (log scale), the
/// validation metrics, each with the training phases shaded; the epoch table with the kept epoch highlighted.
enum TrainingSection {
    /// The LR finder's curve with its suggestions marked; `used` is the rate the head trained at and `reason` why
    /// that one ("the finder's min/10, kept within …").
    static func lrFinder(_ r: LRFinderResult, used: Double? = nil, reason: String? = nil) -> String {
        var marks: [(x: Double, label: String)] = [
            (r.valley, String(format: "valley %.1e", r.valley)),
            (r.steepest, String(format: "steepest %.1e", r.steepest)),
        ]
        if abs(log10(r.minimum / r.valley)) > 0.3 {
            marks.append((r.minimum, String(format: "min/10 %.1e", r.minimum)))
        }
        if let used, used != r.valley, used != r.minimum { marks.append((used, String(format: "used %.1e", used))) }
        let usedText =
            used.map { String(format: " The head trained at %.2e", $0) + (reason.map { ": \($0)." } ?? ".") } ?? ""
        return "<section id='lr-finder'><h2>Learning-rate finder</h2>"
            + SVG.lineChart(
                [.init("smoothed loss", Array(zip(r.rates, r.losses)), color: "#1f77b4")],
                title: "Loss against learning rate", xLabel: "learning rate (log scale)", yLabel: "loss",
                logX: true, marks: marks)
            + "<p>Suggested rates: a tenth of the lowest loss's \(String(format: "%.2e", r.minimum)), valley "
            + "\(String(format: "%.2e", r.valley)), steepest slope \(String(format: "%.2e", r.steepest))."
            + "\(escape(usedText))</p></section>"
    }

    /// Contiguous runs of the same phase in `phases`, as regions from index `offset + start − 0.5` to the end.
    static func regions(_ phases: [String], offset: Double) -> [SVG.Region] {
        var out: [SVG.Region] = []
        var start = 0
        for i in phases.indices where i + 1 == phases.count || phases[i + 1] != phases[i] {
            out.append(
                .init(from: offset + Double(start) - 0.5, to: offset + Double(i) + 0.5, label: phases[i]))
            start = i + 1
        }
        return out
    }

    static func html(_ recorder: Recorder, best: Int? = nil, monitor: String? = nil) -> String {
        let steps = recorder.steps
        var smoothed: [(x: Double, y: Double)] = []
        var avg = 0.0
        for (i, step) in steps.enumerated() {
            avg = 0.9 * avg + 0.1 * step.loss
            smoothed.append((Double(i), avg / (1 - pow(0.9, Double(i + 1)))))
        }
        // Validation loss plotted at the last step of each epoch.
        var stepAtEpoch: [Double] = [], cursor = 0
        let perPhase = Dictionary(grouping: steps.indices, by: { steps[$0].phase })
        for e in recorder.epochs {
            let phaseSteps = perPhase[e.phase] ?? []
            let phaseEpochs = recorder.epochs.filter { $0.phase == e.phase }
            let k = (phaseEpochs.firstIndex { $0.epoch == e.epoch } ?? 0) + 1
            let idx =
                phaseSteps.isEmpty
                ? cursor : phaseSteps[min(phaseSteps.count - 1, phaseSteps.count * k / max(1, phaseEpochs.count) - 1)]
            stepAtEpoch.append(Double(idx))
            cursor = idx
        }
        let stepRegions = regions(steps.map(\.phase), offset: 0)
        let epochRegions = regions(recorder.epochs.map(\.phase), offset: 1)
        let valid = zip(stepAtEpoch, recorder.epochs).compactMap { x, e in e.validLoss.map { (x: x, y: $0) } }
        var html = "<section id='training'><h2>Training</h2><div class='charts'>"
        html += SVG.lineChart(
            [
                .init("train loss (smoothed)", smoothed, color: "#1f77b4"),
                .init("valid loss", valid, color: "#ff7f0e", dots: true),
            ],
            title: "Losses", xLabel: "step", yLabel: "loss", regions: stepRegions)
        // Phases differ in group count (the precomputed head has one); a step with fewer groups is the head's.
        let groups = steps.map(\.rates.count).max() ?? 0
        let colors = ["#9467bd", "#8c564b", "#2ca02c", "#17becf"]
        html += SVG.lineChart(
            (0..<groups).map { g in
                .init(
                    g == groups - 1 ? "head" : g == 0 ? "early body" : "late body",
                    steps.enumerated().compactMap { i, s in
                        let k = s.rates.count == groups ? g : (g == groups - 1 ? s.rates.count - 1 : -1)
                        return k >= 0 && s.rates[k] > 0 ? (Double(i), s.rates[k]) : nil
                    }, color: colors[g % 4])
            }, title: "Learning rate of each layer group", xLabel: "step", yLabel: "rate (log scale)",
            logY: true, regions: stepRegions)
        let metricNames = recorder.epochs.first?.metrics.map(\.name) ?? []
        var bestMark: [(x: Double, label: String)] = []
        if let best { bestMark = [(Double(best + 1), "kept: epoch \(best + 1)")] }
        html += SVG.lineChart(
            metricNames.enumerated().map { k, name in
                .init(
                    name, recorder.epochs.enumerated().map { (Double($0.offset + 1), $0.element.metrics[k].value) },
                    color: colors[k % 4], dots: true)
            }, title: "Validation metrics per epoch", xLabel: "epoch", yLabel: "value", marks: bestMark,
            regions: epochRegions)
        html += "</div>"
        html += ReportPage.table(
            ["phase", "epoch", "train loss", "valid loss"] + metricNames + ["seconds"],
            recorder.epochs.enumerated().map { i, e in
                [
                    e.phase, String(i + 1), String(format: "%.4f", e.trainLoss),
                    e.validLoss.map { String(format: "%.4f", $0) } ?? "–",
                ]
                    + e.metrics.map { String(format: "%.4f", $0.value) } + [String(format: "%.0f", e.seconds)]
            }, highlight: best)
        if let best, let monitor {
            html += "<p>The model kept is epoch \(best + 1)'s (highlighted), the best by \(escape(monitor)).</p>"
        }
        return html + "</section>"
    }
}
