import Foundation
import Learn
import Vision

/// The page of `quadrat audit`: the photos whose labels look wrong, most suspicious first, each with its given
/// label, the label the out-of-fold model suspects and the evidence (probabilities).
public enum AuditPage {
    /// One photo on the page.
    public struct Row {
        public var item: ImageItem
        public var given: String, suspected: String
        public var verdict: ConfidentLearning.Verdict
        public var probabilities: [Double]

        public init(
            item: ImageItem, given: String, suspected: String, verdict: ConfidentLearning.Verdict,
            probabilities: [Double]
        ) {
            (self.item, self.given, self.suspected, self.verdict, self.probabilities) =
                (item, given, suspected, verdict, probabilities)
        }
    }

    /// `summary` lines go first; `joint` is the confident joint (rows: given, columns: confidently belongs to).
    public static func html(
        title: String, summary: [String], classes: [String], joint: [[Int]], rows: [Row], cache: PresizeCache?
    ) -> String {
        page(
            title: title,
            sections: [sections(summary: summary, classes: classes, joint: joint, rows: rows, cache: cache)])
    }

    /// The page around `sections`.
    public static func page(title: String, sections: [String]) -> String {
        ReportPage.page(title: title, sections: sections)
    }

    /// One audit's summary, confident joint and suspects; `label` (a multi-label audit's label, audited against the
    /// rest) heads them and keeps their ids apart from the other labels'.
    public static func sections(
        summary: [String], classes: [String], joint: [[Int]], rows: [Row], cache: PresizeCache?, label: String? = nil
    ) -> String {
        let id = label.map { "-" + $0.filter { $0.isLetter || $0.isNumber } } ?? ""
        var html = "<section id='summary\(id)'><h2>\(label.map { "Label \(escape($0))" } ?? "Summary")</h2>"
        html += summary.map { "<p>\(escape($0))</p>" }.joined()
        html += "<h3>Confident joint</h3><p class='note'>Photos labelled as the row's class whose out-of-fold "
        html += "probability of the column's class reaches that class's own average: the diagonal agrees with the "
        html += "labels, the rest are the suspected errors.</p>"
        html += ReportPage.table(
            ["given \\ confidently"] + classes,
            joint.enumerated().map { i, row in [classes[i]] + row.map(String.init) })
        html += "</section><section id='suspects\(id)'><h2>Most suspicious labels"
        html += label.map { " (\(escape($0)))" } ?? ""
        html += "</h2><p class='note'>Click a photo to enlarge it. Red frame: flagged by confident learning; grey: "
        html += "ranked next, not flagged.</p><div class='grid'>"
        for (rank, row) in rows.enumerated() {
            let v = row.verdict
            let caption =
                "#\(rank + 1) \(row.item.name): labelled \(row.given), looks \(row.suspected) · "
                + String(format: "p(%@) %.2f · margin %.2f", row.given, v.selfConfidence, v.margin)
            html += ReportPage.figure(row.item, caption: caption, cache: cache, style: v.flagged ? "bad" : "")
        }
        return html + "</div></section>"
    }
}
