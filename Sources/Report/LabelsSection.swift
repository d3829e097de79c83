import Foundation
import Learn
import Vision

/// What the report shows of a multi-label model on a set of photos: per label its threshold, precision, recall, F1,
/// ROC AUC and average precision, its precision-recall curve and its 2 × 2 table; how often labels come together;
/// and, per label, the most confident false positives and false negatives.
enum LabelsSection {
    /// The scores at the thresholds: nil when the input is not a multi-label one.
    static func scores(_ input: EvaluationInput) -> MultiLabelScores? {
        guard let truth = input.truth else { return nil }
        // Rows, labels and thresholds come from one model and one set.
        return try? MultiLabelScores(probabilities: input.probabilities, labels: truth, thresholds: thresholds(input))
    }

    /// Each label's threshold: the model's, or 0.5 for a model without a label calibration.
    static func thresholds(_ input: EvaluationInput) -> [Double] {
        input.labelCalibration?.thresholds ?? Array(repeating: 0.5, count: input.classes.count)
    }

    /// The summary's line for one set: exact match with its interval, macro F1, mAP, mean ROC AUC.
    static func scoreLine(_ input: EvaluationInput, title: String, leads: Bool) -> String {
        guard let scores = scores(input) else { return "" }
        let n = input.items.count
        let exact = Int((scores.exactMatch * Double(n)).rounded())
        let interval = Metrics.wilsonInterval(successes: exact, of: n)
        let aucs = scores.labels.map(\.rocAUC).filter { !$0.isNaN }
        let line =
            "<b>\(escape(title))</b>: "
            + String(
                format: "exact match <b>%.1f%%</b> (95%% interval %.1f–%.1f%%) · macro F1 <b>%.4f</b> · mAP %.4f"
                    + " · mean ROC AUC %.4f · label accuracy %.1f%% on %d photos", 100 * scores.exactMatch,
                100 * interval.low, 100 * interval.high, scores.macroF1, scores.meanAveragePrecision,
                aucs.isEmpty ? Double.nan : aucs.reduce(0, +) / Double(aucs.count), 100 * scores.accuracyMulti, n)
        return "<p class='\(leads ? "big" : "second")'>\(line)</p>"
            + "<p class='note'>Exact match counts a photo right when its decided labels are exactly its labels; "
            + "label accuracy counts each (photo, label) decision. Each label is decided at its own threshold, "
            + "chosen on validation.</p>"
    }

    static func html(_ input: EvaluationInput, cache: PresizeCache?) -> String {
        guard let truth = input.truth, let scores = scores(input) else { return "" }
        let thresholds = thresholds(input)
        let decided = input.probabilities.map { zip($0, thresholds).map { $0 >= $1 } }
        var html = "<section id='\(input.anchor)'><h2>\(escape(input.heading))</h2>"
        html += "<div class='tables'><div><h3>Per label</h3>" + labelTable(input, scores, thresholds, truth) + "</div>"
        html += "<div><h3>Labels together (photos with both)</h3>" + coOccurrence(truth, input.classes) + "</div>"
        html += "</div><div class='charts'>" + precisionRecall(input, truth, scores) + "</div>"
        html += "<div class='tables'>"
        for (k, name) in input.classes.enumerated() {
            html +=
                "<div><h3>\(escape(name)): decided against true</h3>" + twoByTwo(truth, decided, label: k) + "</div>"
        }
        html += "</div>"
        html += mistakes(input, truth: truth, decided: decided, cache: cache)
        return html + "</section>"
    }

    static func labelTable(
        _ input: EvaluationInput, _ scores: MultiLabelScores, _ thresholds: [Double], _ truth: [[Bool]]
    ) -> String {
        ReportPage.table(
            ["label", "threshold", "precision", "recall", "F1", "ROC AUC", "average precision", "photos"],
            input.classes.indices.map { k in
                let s = scores.labels[k]
                return [input.classes[k], Calibration.thresholdText(thresholds[k])]
                    + [s.precision, s.recall, s.f1, s.rocAUC, s.averagePrecision].map {
                        $0.isNaN ? "–" : String(format: "%.3f", $0)
                    } + [String(truth.filter { $0[k] }.count)]
            })
    }

    /// How many photos have both labels (the diagonal: each label alone counted once per photo that has it).
    static func coOccurrence(_ truth: [[Bool]], _ classes: [String]) -> String {
        ReportPage.table(
            [""] + classes,
            classes.indices.map { a in
                [classes[a]] + classes.indices.map { b in String(truth.filter { $0[a] && $0[b] }.count) }
            })
    }

    /// Counts of true (rows) against decided (columns), absent and present.
    static func twoByTwo(_ truth: [[Bool]], _ decided: [[Bool]], label k: Int) -> String {
        func count(_ t: Bool, _ d: Bool) -> String {
            String(zip(truth, decided).filter { $0[k] == t && $1[k] == d }.count)
        }
        return ReportPage.table(
            ["true \\ decided", "absent", "present"],
            [["absent", count(false, false), count(false, true)], ["present", count(true, false), count(true, true)]])
    }

    static func precisionRecall(_ input: EvaluationInput, _ truth: [[Bool]], _ scores: MultiLabelScores) -> String {
        let colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"]
        let series = input.classes.indices.map { k in
            SVG.Series(
                String(format: "%@ (AP %.3f)", input.classes[k], scores.labels[k].averagePrecision),
                MultiLabelScores.precisionRecallCurve(
                    scores: input.probabilities.map { $0[k] }, positives: truth.map { $0[k] }
                ).map { ($0.recall, $0.precision) }, color: colors[k % colors.count])
        }
        return SVG.lineChart(
            series, title: "Precision against recall, per label", xLabel: "recall", yLabel: "precision",
            yRange: 0...1)
    }

    /// Per label, the false positives and false negatives the model was surest of (six each).
    static func mistakes(_ input: EvaluationInput, truth: [[Bool]], decided: [[Bool]], cache: PresizeCache?) -> String {
        func names(_ row: [Bool]) -> String {
            let named = input.classes.indices.filter { row[$0] }.map { input.classes[$0] }
            return named.isEmpty ? "none" : named.joined(separator: " ")
        }
        func grid(_ title: String, _ indices: [Int]) -> String {
            ReportPage.grid(
                title,
                indices.map { i in
                    ReportPage.figure(
                        input.items[i],
                        caption: "\(input.items[i].name): decided \(names(decided[i])) · true \(names(truth[i]))",
                        cache: cache, style: "bad" + (input.wholePhoto ? " whole" : ""))
                })
        }
        var html = "<p class='note'>Click a photo to enlarge it.</p>"
        for (k, name) in input.classes.enumerated() {
            let p = input.probabilities
            let falsePositives = p.indices.filter { decided[$0][k] && !truth[$0][k] }.sorted { p[$0][k] > p[$1][k] }
            let falseNegatives = p.indices.filter { !decided[$0][k] && truth[$0][k] }.sorted { p[$0][k] < p[$1][k] }
            html += grid("\(name): most confident false positives", Array(falsePositives.prefix(6)))
            html += grid("\(name): most confident false negatives", Array(falseNegatives.prefix(6)))
        }
        return html
    }
}
