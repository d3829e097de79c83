import Foundation
import Learn
import Vision

/// Output formats of `quadrat predict`.
public enum SubmissionFormat: String, CaseIterable, Sendable {
    case kaggle, csv, json

    /// Kaggle: `name,<positive class>` with the positive-class probability for a binary model
    /// (the header uses the training CSV's label column name), one column per class otherwise.
    /// `decide` gives the predicted class (csv and json): the model's threshold, or the most probable class.
    /// `unknown` (csv and json), when the model can answer "none of these": each photo's distance from the training
    /// photos and whether it is answered unknown; the Kaggle format keeps the competition's columns.
    /// `labels` (multi-label models) decides each photo's labels: the Kaggle format then writes them space-separated
    /// under the label column (the Planet competition's `tags`), csv its `predicted` column the same way, and json a
    /// list.
    public func render(
        probabilities: [[Double]], items: [ImageItem], classes: [String], labelColumn: String,
        decide: ([Double]) -> Int = Metrics.argmax, labels: (([Double]) -> [Bool])? = nil,
        unknown: [UnknownMark]? = nil
    ) throws -> String {
        func extra(_ i: Int) -> [String] {
            guard let mark = unknown?[i] else { return [] }
            return [mark.distance.isNaN ? "" : String(format: "%.5f", mark.distance), mark.isUnknown ? "1" : "0"]
        }
        /// The decided labels of a multi-label model's row, by name.
        func decided(_ p: [Double]) -> [String] {
            guard let labels else { return [] }
            return zip(classes, labels(p)).filter(\.1).map(\.0)
        }
        func predicted(_ p: [Double]) -> String {
            labels == nil ? classes[decide(p)] : decided(p).joined(separator: " ")
        }
        switch self {
        case .kaggle where labels != nil:
            return CSVTable.row(["name", labelColumn]) + "\n"
                + zip(items, probabilities).map { CSVTable.row([$0.name, predicted($1)]) }.joined(separator: "\n")
                + "\n"
        case .kaggle:
            if classes.count == 2 {
                return CSVTable.row(["name", labelColumn]) + "\n"
                    + zip(items, probabilities).map { CSVTable.row([$0.name, ProbabilityText.text($1[1])]) }
                    .joined(separator: "\n") + "\n"
            }
            return CSVTable.row(["name"] + classes) + "\n"
                + zip(items, probabilities).map { CSVTable.row([$0.name] + $1.map(ProbabilityText.text)) }
                .joined(separator: "\n") + "\n"
        case .csv:
            let header = ["name", "file", "predicted"] + classes.map { "p_\($0)" }
            return CSVTable.row(header + (unknown == nil ? [] : ["unknown_distance", "unknown"])) + "\n"
                + zip(items, probabilities).enumerated().map { i, row in
                    CSVTable.row(
                        [row.0.name, row.0.url.path, predicted(row.1)] + row.1.map(ProbabilityText.text)
                            + extra(i))
                }.joined(separator: "\n") + "\n"
        case .json:
            let rows = zip(items, probabilities).enumerated().map { i, row in
                var fields: [String: Any] = [
                    "name": row.0.name, "file": row.0.url.path,
                    "predicted": labels == nil ? classes[decide(row.1)] as Any : decided(row.1) as Any,
                    "probabilities": Dictionary(uniqueKeysWithValues: zip(classes, row.1)),
                ]
                if let mark = unknown?[i] {
                    fields["unknown"] = mark.isUnknown
                    if !mark.distance.isNaN { fields["unknown_distance"] = mark.distance }
                }
                return fields
            }
            let data = try JSONSerialization.data(
                withJSONObject: rows, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }
}

/// A photo's distance from the training photos and whether it is answered "none of these".
public struct UnknownMark: Sendable, Equatable {
    public var distance: Double
    public var isUnknown: Bool
    public init(distance: Double, isUnknown: Bool) { (self.distance, self.isUnknown) = (distance, isUnknown) }
}
