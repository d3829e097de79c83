import Foundation
import Learn
import Vision

/// Output formats of `quadrat predict`.
enum SubmissionFormat: String, CaseIterable {
    case kaggle, csv, json

    /// Kaggle: `name,<positive class>` with the positive-class probability for a binary model
    /// (the header uses the training CSV's label column name), one column per class otherwise.
    func render(probabilities: [[Double]], items: [ImageItem], classes: [String], labelColumn: String) throws -> String {
        switch self {
        case .kaggle:
            if classes.count == 2 {
                return "name,\(labelColumn)\n" + zip(items, probabilities).map { "\($0.name),\(String(format: "%.6f", $1[1]))" }.joined(separator: "\n") + "\n"
            }
            return (["name"] + classes).joined(separator: ",") + "\n"
                + zip(items, probabilities).map { ([$0.name] + $1.map { String(format: "%.6f", $0) }).joined(separator: ",") }.joined(separator: "\n") + "\n"
        case .csv:
            return (["name", "file", "predicted"] + classes.map { "p_\($0)" }).joined(separator: ",") + "\n"
                + zip(items, probabilities).map { ([$0.name, $0.url.path, classes[Metrics.argmax($1)]] + $1.map { String(format: "%.6f", $0) }).joined(separator: ",") }.joined(separator: "\n") + "\n"
        case .json:
            let rows = zip(items, probabilities).map { item, p in
                ["name": item.name, "file": item.url.path, "predicted": classes[Metrics.argmax(p)],
                 "probabilities": Dictionary(uniqueKeysWithValues: zip(classes, p))] as [String: Any]
            }
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.prettyPrinted, .sortedKeys])
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }
}

extension SavedModel {
    /// The options the model was trained with, from its metadata (nil for files without them).
    var trainOptions: TrainOptions? {
        metadata["options"].flatMap { try? JSONDecoder().decode(TrainOptions.self, from: Data($0.utf8)) }
    }

    /// The label column name the model was trained with (for the Kaggle header), default "label".
    var labelColumnName: String {
        guard let o = trainOptions else { return "label" }
        if let column = o.labelColumn { return column }
        // The training CSV's second header field, when it is still there.
        let data = URL(fileURLWithPath: o.data)
        for name in ["train_labels.csv", "labels.csv"] {
            if let table = try? CSVTable(url: data.appendingPathComponent(name)), table.header.count > 1 { return table.header[1] }
        }
        return "label"
    }

    /// The augmentation the model was trained with (side-on for files that do not say): its TTA views.
    var augmentation: Augmentation { trainOptions?.augmentationSettings ?? .sideOn }
}
