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
        var html = "<section id='summary'><h2>Summary</h2>" + summary.map { "<p>\(escape($0))</p>" }.joined()
        html += "<h3>Confident joint</h3><p class='note'>Photos labelled as the row's class whose out-of-fold "
        html += "probability of the column's class reaches that class's own average: the diagonal agrees with the "
        html += "labels, the rest are the suspected errors.</p>"
        html += ReportPage.table(
            ["given \\ confidently"] + classes,
            joint.enumerated().map { i, row in [classes[i]] + row.map(String.init) })
        html += "</section><section id='suspects'><h2>Most suspicious labels</h2>"
        html += "<p class='note'>Click a photo to enlarge it. Red frame: flagged by confident learning; grey: "
        html += "ranked next, not flagged.</p><div class='grid'>"
        for (rank, row) in rows.enumerated() {
            let v = row.verdict
            let caption =
                "#\(rank + 1) \(row.item.name): labelled \(row.given), looks \(row.suspected) · "
                + String(format: "p(%@) %.2f · margin %.2f", row.given, v.selfConfidence, v.margin)
            html += ReportPage.figure(row.item, caption: caption, cache: cache, style: v.flagged ? "bad" : "")
        }
        html += "</div></section>"
        return ReportPage.page(title: title, sections: [html])
    }
}
