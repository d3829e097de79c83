import Foundation
import Learn
import Vision

extension SavedModel {
    /// The options the model was trained with, from its metadata (nil for files without them).
    /// Models written before options were saved have none; a present but unreadable entry is an error.
    public func trainOptions() throws -> TrainOptions? {
        guard let text = metadata["options"] else { return nil }
        do {
            return try JSONDecoder().decode(TrainOptions.self, from: Data(text.utf8))
        } catch {
            throw WorkflowError("the model's training options cannot be read: \(error)")
        }
    }

    /// The label column name the model was trained with (for the Kaggle header), default "label".
    public func labelColumnName() throws -> String {
        guard let o = try trainOptions() else { return "label" }
        if let column = o.labelColumn { return column }
        // The training CSV's second header field, when it is still there.
        let data = URL(fileURLWithPath: o.data)
        for name in ["train_labels.csv", "labels.csv"] {
            // The training data may have moved or changed since: then the header falls back to "label".
            if let table = try? CSVTable(url: data.appendingPathComponent(name)), table.header.count > 1 {
                return table.header[1]
            }
        }
        return "label"
    }

    /// The augmentation the model was trained with (side-on for files that do not say): its TTA views.
    public func augmentation() throws -> Augmentation { try trainOptions()?.augmentationSettings ?? .sideOn }
}
