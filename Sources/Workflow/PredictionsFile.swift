import Foundation
import Learn
import Torch
import Vision

/// CSV of predictions: name, true label (when known), what was decided, one probability column per class (RFC 4180
/// quoting). Multi-label predictions list the true and the decided labels, space-separated, in those columns.
public enum PredictionsFile {
    /// `decided` (multi-label models: each photo's labels at their thresholds) replaces the most probable class.
    public static func write(
        probabilities: [[Double]], items: [ImageItem], classes: [String], decided: [[Bool]]? = nil, to url: URL
    ) throws {
        let labelled = items.contains { $0.label != nil || $0.labelSet != nil }
        let multiLabel = decided != nil
        var lines = [
            CSVTable.row(
                ["name"] + (labelled ? [multiLabel ? "labels" : "label", "predicted"] : ["predicted"])
                    + classes.map { "p_\($0)" })
        ]
        func names(_ indices: [Int]) -> String { indices.map { classes[$0] }.joined(separator: " ") }
        for (row, (p, item)) in zip(probabilities, items).enumerated() {
            var fields = [item.name]
            if labelled { fields.append(item.labelSet.map(names) ?? item.label.map { classes[$0] } ?? "") }
            if let decided {
                fields.append(names(decided[row].indices.filter { decided[row][$0] }))
            } else {
                fields.append(classes[Metrics.argmax(p)])
            }
            fields += p.map(ProbabilityText.text)
            lines.append(CSVTable.row(fields))
        }
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: url)
    }
}
