import Foundation
import Learn
import Torch
import Vision

/// Builds the self-contained HTML report: inline SVG plots and base64 JPEG thumbnails,
/// so the file opens offline and can be mailed as is.
/// What a run decided, for the report: the rate it trained with, the epoch whose weights it kept, and
/// one-line notes (plan, precision).
public struct RunFacts: Sendable {
    /// The head's learning rate (marked on the LR-finder chart).
    public var learningRate: Double?
    /// Index into the recorder's epochs of the epoch whose weights were kept.
    public var bestEpoch: Int?
    /// What chose the best epoch ("valid_loss"…).
    public var monitor: String?
    /// Lines shown under the summary.
    public var notes: [String]

    public init(learningRate: Double? = nil, bestEpoch: Int? = nil, monitor: String? = nil, notes: [String] = []) {
        (self.learningRate, self.bestEpoch, self.monitor, self.notes) = (learningRate, bestEpoch, monitor, notes)
    }
}

public enum ReportBuilder {
    /// The full report of a training run.
    public static func training(
        dataset: ImageDataset, validSet: ImageDataset, classes: [String], recorder: Recorder, lrFinder: LRFinderResult?,
        probabilities: [[Double]], validItems: [ImageItem], times: PhaseTimes, problems: [DataProblem],
        cache: PresizeCache?, title: String, run: RunFacts = RunFacts()
    ) throws -> String {
        var summaryHTML = summary(
            probabilities: probabilities, labels: try validItems.labels(), classes: classes, times: times)
        if !run.notes.isEmpty {
            summaryHTML = summaryHTML.replacingOccurrences(
                of: "</section>", with: run.notes.map { "<p>\(escape($0))</p>" }.joined() + "</section>")
        }
        var sections = [summaryHTML]
        sections.append(datasetSection(dataset, cache: cache))
        if let lrFinder { sections.append(lrFinderSection(lrFinder, used: run.learningRate)) }
        sections.append(trainingSection(recorder, best: run.bestEpoch, monitor: run.monitor))
        sections.append(
            try evaluationSection(
                probabilities: probabilities, items: validItems, classes: classes, cache: cache,
                heading: "Validation (with TTA)"))
        sections.append(problemsSection(problems))
        return page(title: title, sections: sections)
    }

    /// The error-analysis report of a model on a labelled folder (`quadrat interpret`).
    public static func interpretation(
        probabilities: [[Double]], items: [ImageItem], classes: [String], problems: [DataProblem], cache: PresizeCache?,
        title: String
    ) throws -> String {
        try page(
            title: title,
            sections: [
                summary(probabilities: probabilities, labels: items.labels(), classes: classes, times: nil),
                evaluationSection(
                    probabilities: probabilities, items: items, classes: classes, cache: cache,
                    heading: "Error analysis"),
                problemsSection(problems),
            ])
    }

    /// The data-set page of `quadrat explore`.
    public static func exploration(
        _ dataset: ImageDataset, brightness: BrightnessSummary? = nil, title: String
    ) -> String {
        page(
            title: title,
            sections: [datasetSection(dataset, cache: nil)]
                + (brightness.map { [brightnessSection($0, classes: dataset.classes)] } ?? []))
    }

    /// Each class's mean brightness, with the hint when brightness alone separates classes.
    static func brightnessSection(_ summary: BrightnessSummary, classes: [String]) -> String {
        var html =
            "<section id='brightness'><h2>Brightness</h2><table><tr><th>class</th><th>images measured</th><th>mean luma (0–255)</th><th>standard deviation</th></tr>"
        for (i, name) in classes.enumerated() where i < summary.counts.count {
            html +=
                "<tr><td style='text-align:left'>\(escape(name))</td><td>\(summary.counts[i])</td><td>\(String(format: "%.1f", summary.means[i]))</td><td>\(String(format: "%.1f", summary.deviations[i]))</td></tr>"
        }
        html += "</table>"
        if let hint = summary.hint(classes: classes) {
            html += "<p>\(escape(hint.prefix(1).uppercased() + hint.dropFirst())).</p>"
        }
        return html + "</section>"
    }

    /// The LR-finder plot of `quadrat lr-find`.
    public static func lrFinderPage(_ result: LRFinderResult, title: String) -> String {
        page(title: title, sections: [lrFinderSection(result)])
    }

    static func page(title: String, sections: [String]) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
        h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: .2em; margin-top: 2em; }
        table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
        tr.best td { background: #e8f4e0; font-weight: 600; }
        th { background: #f4f4f4; } .grid { display: flex; flex-wrap: wrap; gap: 8px; }
        figure { margin: 0; width: 120px; font-size: .75em; text-align: center; } figure img { width: 112px; height: 112px; object-fit: cover; border: 3px solid #ccc; }
        figure.ok img { border-color: #2ca02c; } figure.bad img { border-color: #d62728; }
        .chart text.title { font-weight: 600; font-size: 13px; } .chart text.tick { font-size: 10px; } .chart text.label { font-size: 11px; }
        .charts { display: flex; flex-wrap: wrap; gap: 16px; } .big { font-size: 1.3em; }
        </style></head><body>
        <h1>\(escape(title))</h1>
        \(sections.joined(separator: "\n"))
        <p style="color:#888">Made by Quadrat \(quadratVersion) on libtorch \(Torch.version).</p>
        </body></html>
        """
    }

    static func summary(probabilities: [[Double]], labels: [Int], classes: [String], times: PhaseTimes?) -> String {
        let accuracy = Metrics.accuracy(probabilities: probabilities, labels: labels)
        var html =
            "<section id='summary'><h2>Summary</h2><p class='big'>"
            + String(format: "accuracy <b>%.2f%%</b>", accuracy * 100)
        if classes.count >= 2 {
            html += String(
                format: " · ROC AUC <b>%.4f</b>", Metrics.rocAUC(probabilities: probabilities, labels: labels))
            html += String(format: " · log loss %.4f", Metrics.logLoss(probabilities: probabilities, labels: labels))
        }
        html += " on \(labels.count) images</p>"
        if let times {
            html +=
                "<table><tr><th>phase</th><th>seconds</th></tr>"
                + times.order.map {
                    "<tr><td style='text-align:left'>\(escape($0))</td><td>\(String(format: "%.0f", times.phases[$0] ?? 0))</td></tr>"
                }.joined() + "</table>"
        }
        return html + "</section>"
    }

    static func datasetSection(_ dataset: ImageDataset, cache: PresizeCache?) -> String {
        var html = "<section id='dataset'><h2>Data set</h2><table><tr><th>class</th><th>images</th><th>share</th></tr>"
        let total = max(1, dataset.items.count)
        for (name, count) in zip(dataset.classes, dataset.classCounts) {
            html +=
                "<tr><td style='text-align:left'>\(escape(name))</td><td>\(count)</td><td>\(String(format: "%.1f%%", 100 * Double(count) / Double(total)))</td></tr>"
        }
        html += "</table>"
        // Statistics of the readable images; the problems section lists the others.
        let sizes = dataset.items.compactMap { try? ImageDecoder.size(of: $0.url) }
        html +=
            "<div class='charts'>"
            + SVG.histogram(sizes.map { Double($0.width) }, title: "Image widths", xLabel: "pixels")
            + SVG.histogram(sizes.map { Double($0.height) }, title: "Image heights", xLabel: "pixels", color: "#ff7f0e")
            + "</div>"
        for (c, name) in dataset.classes.enumerated() {
            let samples = dataset.items.filter { $0.label == c }.prefix(8)
            html +=
                "<h3>Samples: \(escape(name))</h3><div class='grid'>"
                + samples.map { figure($0, caption: $0.name, cache: cache, style: "") }.joined() + "</div>"
        }
        return html + "</section>"
    }

    static func lrFinderSection(_ r: LRFinderResult, used: Double? = nil) -> String {
        var marks: [(x: Double, label: String)] = [
            (r.valley, String(format: "valley %.1e", r.valley)),
            (r.steepest, String(format: "steepest %.1e", r.steepest)),
        ]
        if abs(log10(r.minimum / r.valley)) > 0.3 {
            marks.append((r.minimum, String(format: "min/10 %.1e", r.minimum)))
        }
        if let used, used != r.valley, used != r.minimum { marks.append((used, String(format: "used %.1e", used))) }
        let usedText = used.map { String(format: " Trained the head at %.2e.", $0) } ?? ""
        return "<section id='lr-finder'><h2>Learning-rate finder</h2>"
            + SVG.lineChart(
                [.init("smoothed loss", Array(zip(r.rates, r.losses)), color: "#1f77b4")],
                title: "Loss against learning rate", xLabel: "learning rate (log)", yLabel: "loss",
                logX: true, marks: marks)
            + "<p>Suggested rates: a tenth of the lowest loss's \(String(format: "%.2e", r.minimum)), valley "
            + "\(String(format: "%.2e", r.valley)), steepest slope \(String(format: "%.2e", r.steepest)).\(usedText)</p></section>"
    }

    static func trainingSection(_ recorder: Recorder, best: Int? = nil, monitor: String? = nil) -> String {
        let steps = recorder.steps
        let losses = steps.enumerated().map { (Double($0.offset), $0.element.loss) }
        var smoothed: [(x: Double, y: Double)] = []
        var avg = 0.0
        for (i, l) in losses.enumerated() {
            avg = 0.9 * avg + 0.1 * l.1
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
        let valid = zip(stepAtEpoch, recorder.epochs).compactMap { x, e in e.validLoss.map { (x: x, y: $0) } }
        var html = "<section id='training'><h2>Training</h2><div class='charts'>"
        html += SVG.lineChart(
            [
                .init("train loss (smoothed)", smoothed, color: "#1f77b4"),
                .init("valid loss", valid, color: "#ff7f0e", dots: true),
            ],
            title: "Losses", xLabel: "step", yLabel: "loss")
        // Phases differ in group count (the precomputed head has one); a step with fewer groups is the head's.
        let groups = steps.map(\.rates.count).max() ?? 0
        let colors = ["#9467bd", "#8c564b", "#2ca02c", "#17becf"]
        html += SVG.lineChart(
            (0..<groups).map { g in
                .init(
                    g == groups - 1 ? "head" : "body group \(g + 1)",
                    steps.enumerated().compactMap { i, s in
                        let k = s.rates.count == groups ? g : (g == groups - 1 ? s.rates.count - 1 : -1)
                        return k >= 0 ? (Double(i), s.rates[k]) : nil
                    }, color: colors[g % 4])
            }, title: "Learning-rate schedule used", xLabel: "step", yLabel: "learning rate")
        let metricNames = recorder.epochs.first?.metrics.map(\.name) ?? []
        html += SVG.lineChart(
            metricNames.enumerated().map { k, name in
                .init(
                    name, recorder.epochs.enumerated().map { (Double($0.offset + 1), $0.element.metrics[k].value) },
                    color: colors[k % 4], dots: true)
            }, title: "Validation metrics per epoch", xLabel: "epoch", yLabel: "value")
        html +=
            "</div><table><tr><th>phase</th><th>epoch</th><th>train loss</th><th>valid loss</th>"
            + metricNames.map { "<th>\(escape($0))</th>" }.joined() + "<th>seconds</th></tr>"
        for (i, e) in recorder.epochs.enumerated() {
            html +=
                (i == best ? "<tr class='best'>" : "<tr>")
                + "<td style='text-align:left'>\(escape(e.phase))</td><td>\(i + 1)</td><td>\(String(format: "%.4f", e.trainLoss))</td><td>\(e.validLoss.map { String(format: "%.4f", $0) } ?? "–")</td>"
                + e.metrics.map { "<td>\(String(format: "%.4f", $0.value))</td>" }.joined()
                + "<td>\(String(format: "%.0f", e.seconds))</td></tr>"
        }
        html += "</table>"
        if let best, let monitor {
            html += "<p>The model kept is epoch \(best + 1)'s (highlighted), the best by \(escape(monitor)).</p>"
        }
        return html + "</section>"
    }

    static func evaluationSection(
        probabilities: [[Double]], items: [ImageItem], classes: [String], cache: PresizeCache?, heading: String
    ) throws -> String {
        let labels = try items.labels()
        let interp = Interpretation(probabilities: probabilities, labels: labels, classes: classes)
        var html =
            "<section id='evaluation'><h2>\(escape(heading))</h2><h3>Confusion matrix</h3><table><tr><th>true \\ predicted</th>"
            + classes.map { "<th>\(escape($0))</th>" }.joined() + "</tr>"
        let matrix = interp.confusionMatrix
        let peak = Double(matrix.flatMap { $0 }.max() ?? 1)
        for (c, row) in matrix.enumerated() {
            html +=
                "<tr><th>\(escape(classes[c]))</th>"
                + row.enumerated().map { k, v in
                    let shade = Int(255 - 150 * Double(v) / max(1, peak))
                    return "<td style='background:rgb(\(shade),\(shade),255)'>\(v)</td>"
                }.joined() + "</tr>"
        }
        html += "</table><table><tr><th>class</th><th>precision</th><th>recall</th><th>F1</th></tr>"
        for (c, prf) in Metrics.precisionRecallF1(matrix).enumerated() {
            html +=
                "<tr><td style='text-align:left'>\(escape(classes[c]))</td>"
                + [prf.precision, prf.recall, prf.f1].map { "<td>\(String(format: "%.3f", $0))</td>" }.joined()
                + "</tr>"
        }
        html += "</table>"
        if classes.count == 2 {
            let roc = Metrics.rocCurve(scores: probabilities.map { $0[1] }, positives: labels.map { $0 == 1 })
            html +=
                "<h3>ROC curve</h3>"
                + SVG.lineChart(
                    [
                        .init("ROC (\(classes[1]) positive)", roc.map { ($0.fpr, $0.tpr) }, color: "#1f77b4"),
                        .init("chance", [(0, 0), (1, 1)], color: "#bbb"),
                    ],
                    title: String(
                        format: "ROC curve, AUC %.4f", Metrics.rocAUC(probabilities: probabilities, labels: labels)),
                    xLabel: "false-positive rate", yLabel: "true-positive rate", width: 360, height: 340, yRange: 0...1)
        }
        func grid(_ title: String, _ indices: [Int]) -> String {
            "<h3>\(escape(title))</h3>"
                + (indices.isEmpty
                    ? "<p>none</p>"
                    : "<div class='grid'>"
                        + indices.map { i in
                            let caption =
                                "\(items[i].name): \(classes[interp.predicted(i)]) \(String(format: "%.2f", interp.confidence(i))) (true \(classes[labels[i]]))"
                            return figure(
                                items[i], caption: caption, cache: cache, style: interp.isCorrect(i) ? "ok" : "bad")
                        }.joined() + "</div>")
        }
        html += grid("Random correct", interp.random(correct: true))
        html += grid("Random incorrect", interp.random(correct: false))
        for (c, idx) in interp.mostConfident(correct: true) {
            html += grid("Most confident correct: \(classes[c])", idx)
        }
        for (c, idx) in interp.mostConfident(correct: false) {
            html += grid("Most confident incorrect: true \(classes[c])", idx)
        }
        html += grid("Most uncertain", interp.mostUncertain())
        return html + "</section>"
    }

    static func problemsSection(_ problems: [DataProblem]) -> String {
        guard !problems.isEmpty else {
            return "<section id='problems'><h2>Skipped inputs</h2><p>None: every image was used.</p></section>"
        }
        return "<section id='problems'><h2>Skipped inputs</h2><p>\(problems.count) input(s) were left out:</p><ul>"
            + problems.prefix(200).map { "<li>\(escape($0.description))</li>" }.joined() + "</ul></section>"
    }

    /// A thumbnail figure (base64 JPEG, from the presize cache when there is one).
    static func figure(_ item: ImageItem, caption: String, cache: PresizeCache?, style: String) -> String {
        "<figure class='\(style)'>"
            + (thumbnail(item.url, cache: cache).map { "<img alt='' src='data:image/jpeg;base64,\($0)'>" }
                ?? "<div>(unreadable)</div>")
            + "<figcaption>\(escape(caption))</figcaption></figure>"
    }

    /// nil when the image cannot be read: the figure then says "(unreadable)" and the problems section why.
    static func thumbnail(_ url: URL, cache: PresizeCache?) -> String? {
        guard let image = try? cache?.image(for: url) ?? ImageDecoder(minimumSide: 112).decode(url),
            let small = try? RGBImage(tensor: Resize.shorterSide(image.tensor(), to: 112)),
            let jpeg = try? ImageEncoder.jpeg(small, quality: 80)
        else { return nil }
        return jpeg.base64EncodedString()
    }
}
