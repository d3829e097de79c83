import Foundation
import Learn
import Torch
import Vision

/// CSV of predictions: name, true label (when known), one probability column per class (RFC 4180 quoting).
public enum PredictionsFile {
    public static func write(probabilities: [[Double]], items: [ImageItem], classes: [String], to url: URL) throws {
        let labelled = items.contains { $0.label != nil }
        var lines = [
            CSVTable.row(["name"] + (labelled ? ["label", "predicted"] : ["predicted"]) + classes.map { "p_\($0)" })
        ]
        for (p, item) in zip(probabilities, items) {
            var fields = [item.name]
            if labelled { fields.append(item.label.map { classes[$0] } ?? "") }
            fields.append(classes[Metrics.argmax(p)])
            fields += p.map(ProbabilityText.text)
            lines.append(CSVTable.row(fields))
        }
        try AtomicFile.write(lines.joined(separator: "\n") + "\n", to: url)
    }
}
