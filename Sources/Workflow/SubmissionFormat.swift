import Foundation
import Learn
import Vision

/// Output formats of `quadrat predict`.
public enum SubmissionFormat: String, CaseIterable, Sendable {
    case kaggle, csv, json

    /// Kaggle: `name,<positive class>` with the positive-class probability for a binary model
    /// (the header uses the training CSV's label column name), one column per class otherwise.
    /// `decide` gives the predicted class (csv and json): the model's threshold, or the most probable class.
    public func render(
        probabilities: [[Double]], items: [ImageItem], classes: [String], labelColumn: String,
        decide: ([Double]) -> Int = Metrics.argmax
    ) throws -> String {
        switch self {
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
            return CSVTable.row(["name", "file", "predicted"] + classes.map { "p_\($0)" }) + "\n"
                + zip(items, probabilities).map {
                    CSVTable.row(
                        [$0.name, $0.url.path, classes[decide($1)]] + $1.map(ProbabilityText.text))
                }.joined(separator: "\n") + "\n"
        case .json:
            let rows = zip(items, probabilities).map { item, p in
                [
                    "name": item.name, "file": item.url.path, "predicted": classes[decide(p)],
                    "probabilities": Dictionary(uniqueKeysWithValues: zip(classes, p)),
                ] as [String: Any]
            }
            let data = try JSONSerialization.data(
                withJSONObject: rows, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }
}
