import Foundation
import Learn
import Vision

/// What the evaluation part of a report shows: a model's probabilities for labelled images.
public struct EvaluationInput {
    /// Calibrated when `calibration` is set (what `predict` gives).
    public var probabilities: [[Double]]
    public var items: [ImageItem]
    public var classes: [String]
    /// The temperature and (binary) threshold fitted on validation.
    public var calibration: Calibration?
    /// The probabilities before calibration, for the reliability diagram.
    public var uncalibrated: [[Double]]?
    /// The Grad-CAM picture of item `i` (the model's view with the map over it); nil: no heat maps.
    public var heatMap: ((Int) -> RGBImage?)?
    public var heading: String
    /// Which set the photos are, for the summary's words on how far to trust the figure.
    public var set = EvaluatedSet.labelled
    /// The section's id, unique on the page (a report can show validation and held-out test).
    public var anchor = "evaluation"
    /// The model sees the whole photo (`--resize squish` or `pad`): thumbnails show all of it, not a centre crop.
    public var wholePhoto = false
    /// A multi-label model's labels for each photo, 0/1 per class (nil for single-label models): the page then
    /// shows ``LabelsSection`` instead of the confusion matrix.
    public var truth: [[Bool]]?
    /// Each label's temperature and threshold (multi-label models).
    public var labelCalibration: LabelCalibration?

    public init(
        probabilities: [[Double]], items: [ImageItem], classes: [String], calibration: Calibration? = nil,
        uncalibrated: [[Double]]? = nil, heatMap: ((Int) -> RGBImage?)? = nil, heading: String
    ) {
        (self.probabilities, self.items, self.classes, self.heading) = (probabilities, items, classes, heading)
        (self.calibration, self.uncalibrated, self.heatMap) = (calibration, uncalibrated, heatMap)
    }

    /// The class decided for item `i`: at the calibrated threshold for binary models, else the most probable.
    func decided(_ i: Int) -> Int { calibration?.decide(probabilities[i]) ?? Metrics.argmax(probabilities[i]) }
}

/// Which photos a report's figures come from: it decides how much the figure can be trusted.
public enum EvaluatedSet: Sendable, Equatable {
    /// The run's validation photos, which also chose the kept epoch and fitted the calibration.
    case validation
    /// Labelled test photos that no choice of the run saw, named by where they came from.
    case heldOut(String)
    /// A labelled folder given to `interpret`.
    case labelled
}

/// Scores, confusion matrices, per-class figures, ROC and reliability charts, and the photo grids.
enum EvaluationSection {
    static func html(_ input: EvaluationInput, cache: PresizeCache?) throws -> String {
        let labels = try input.items.labels()
        let classes = input.classes
        let decided = input.items.indices.map(input.decided)
        var html = "<section id='\(input.anchor)'><h2>\(escape(input.heading))</h2>"
        if let calibration = input.calibration, let threshold = calibration.threshold, classes.count == 2 {
            html +=
                "<p class='note'>Decisions below: \(escape(classes[1])) when its calibrated probability is at least "
                + "\(Calibration.thresholdText(threshold)) (\(escape(calibration.ruleDescription))).</p>"
        }
        let interpretation = Interpretation(
            probabilities: input.probabilities, labels: labels, classes: classes, decisions: decided)
        let matrix = interpretation.confusionMatrix
        html += "<div class='tables'><div><h3>Confusion matrix (counts)</h3>" + confusion(matrix, classes, rates: false)
        html += "</div><div><h3>Share of each true class</h3>" + confusion(matrix, classes, rates: true) + "</div>"
        html += "<div><h3>Per class</h3>"
        html += ReportPage.table(
            ["class", "precision", "recall", "F1", "images"],
            zip(Metrics.precisionRecallF1(matrix), classes.indices).map { prf, c in
                [classes[c]] + [prf.precision, prf.recall, prf.f1].map { String(format: "%.3f", $0) }
                    + [String(matrix[c].reduce(0, +))]
            })
        html += "</div></div><div class='charts'>"
        if classes.count == 2 { html += roc(input, labels: labels) }
        html += reliability(input, labels: labels)
        html += "</div>"
        html += grids(input, interpretation, labels: labels, decided: decided, cache: cache)
        return html + "</section>"
    }

    static func confusion(_ matrix: [[Int]], _ classes: [String], rates: Bool) -> String {
        var html =
            "<table><tr><th class='text'>true \\ predicted</th>" + classes.map { "<th>\(escape($0))</th>" }.joined()
        html += "</tr>"
        let peak = Double(matrix.flatMap { $0 }.max() ?? 1)
        for (c, row) in matrix.enumerated() {
            let total = Double(max(1, row.reduce(0, +)))
            html += "<tr><th class='text'>\(escape(classes[c]))</th>"
            for v in row {
                let share = rates ? Double(v) / total : Double(v) / max(1, peak)
                let shade = Int(255 - 150 * share)
                let text = rates ? String(format: "%.1f%%", 100 * Double(v) / total) : String(v)
                html += "<td style='background:rgb(\(shade),\(shade),255)'>\(text)</td>"
            }
            html += "</tr>"
        }
        return html + "</table>"
    }

    static func roc(_ input: EvaluationInput, labels: [Int]) -> String {
        let scores = input.probabilities.map { $0[1] }, positives = labels.map { $0 == 1 }
        let curve = Metrics.rocCurve(scores: scores, positives: positives)
        var series: [SVG.Series] = [
            .init("ROC (\(input.classes[1]) positive)", curve.map { ($0.fpr, $0.tpr) }, color: "#1f77b4"),
            .init("chance", [(0, 0), (1, 1)], color: "#bbb"),
        ]
        if let threshold = input.calibration?.threshold {
            let pos = Double(max(1, positives.filter { $0 }.count)),
                neg = Double(max(1, positives.filter { !$0 }.count))
            let tp = zip(scores, positives).filter { $0.0 >= threshold && $0.1 }.count
            let fp = zip(scores, positives).filter { $0.0 >= threshold && !$0.1 }.count
            series.append(
                .init(
                    "threshold " + Calibration.thresholdText(threshold), [(Double(fp) / neg, Double(tp) / pos)],
                    color: "#d62728", dots: true))
        }
        return SVG.lineChart(
            series,
            title: String(format: "ROC curve, AUC %.4f", Metrics.rocAUC(scores: scores, positives: positives)),
            xLabel: "false-positive rate", yLabel: "true-positive rate", width: 400, height: 360, yRange: 0...1)
    }

    /// Accuracy against confidence per bin, before and after calibration, with the diagonal of perfect
    /// calibration; the legend gives each expected calibration error.
    static func reliability(_ input: EvaluationInput, labels: [Int]) -> String {
        func series(_ p: [[Double]], _ name: String, _ color: String) -> SVG.Series {
            let ece = Calibration.expectedCalibrationError(probabilities: p, labels: labels)
            return .init(
                String(format: "%@ (ECE %.3f)", name, ece),
                Calibration.reliability(probabilities: p, labels: labels).map { ($0.confidence, $0.accuracy) },
                color: color)
        }
        var lines = [SVG.Series("perfect calibration", [(0, 0), (1, 1)], color: "#bbb")]
        if let before = input.uncalibrated {
            lines.append(series(before, "before", "#ff7f0e"))
            lines.append(
                series(
                    input.probabilities, "after (\(input.calibration?.parameterText ?? "T = 1.00"))", "#1f77b4"))
        } else {
            lines.append(series(input.probabilities, "model", "#1f77b4"))
        }
        return SVG.lineChart(
            lines, title: "Reliability: accuracy against confidence", xLabel: "top-class confidence (15 bins)",
            yLabel: "accuracy", width: 400, height: 360, yRange: 0...1)
    }

    static func grids(
        _ input: EvaluationInput, _ interp: Interpretation, labels: [Int], decided: [Int], cache: PresizeCache?
    ) -> String {
        let classes = input.classes
        func caption(_ i: Int) -> String {
            // 0 − log, not −log: a certain, right answer has loss +0, not "-0.00".
            let p = input.probabilities[i], loss = 0 - log(max(p[labels[i]], 1e-12))
            return "\(input.items[i].name): predicted \(classes[decided[i]]) \(String(format: "%.2f", p[decided[i]]))"
                + " · true \(classes[labels[i]]) · loss \(String(format: "%.2f", loss))"
        }
        func grid(_ title: String, _ indices: [Int]) -> String {
            ReportPage.grid(
                title,
                indices.map { i in
                    ReportPage.figure(
                        input.items[i], caption: caption(i), cache: cache,
                        style: (decided[i] == labels[i] ? "ok" : "bad") + (input.wholePhoto ? " whole" : ""),
                        heat: input.heatMap?(i))
                })
        }
        var html =
            "<p class='note'>Green frames: right; red: wrong. Click a photo to enlarge it. The loss is −log of the "
            + "probability given to the true class.</p>"
        if input.heatMap != nil {
            let id = "heat-\(input.anchor)"
            html +=
                "<input type='checkbox' id='\(id)' class='heat-toggle'>"
                + "<label for='\(id)'> show heat maps (Grad-CAM: where the evidence "
                + "for the predicted class is strongest, bright yellow; over the model's view of the photo)</label>"
        }
        html += grid("Random correct", interp.random(correct: true))
        html += grid("Random incorrect", interp.random(correct: false))
        for (c, idx) in interp.mostConfident(correct: true) {
            html += grid("Most confident correct: \(classes[c])", idx)
        }
        for (c, idx) in interp.mostConfident(correct: false) {
            html += grid("Most confident incorrect: true \(classes[c])", idx)
        }
        html += grid("Most uncertain (closest call between the top two classes)", interp.mostUncertain())
        return html
    }
}
