import Foundation
import Learn
import Torch
import Vision

/// A saved model's predictions on a labelled folder, shared by `evaluate` and `interpret`.
public struct LabelledPredictions {
    public var saved: SavedModel
    public var dataset: ImageDataset
    public var probabilities: [[Double]]
    /// The images predicted, in order (unreadable ones are left out and listed in ``skipped``).
    public var items: [ImageItem]
    /// Rows left out of the labels and images that could not be read.
    public var skipped: [DataProblem]

    /// Predicts `data` with the model at `model` (TTA with `tta`, in `precision`), reporting what was left out
    /// on standard error.
    public init(
        model: URL, data: URL, nameColumn: String? = nil, labelColumn: String? = nil, tta: Bool = false,
        precision: Precision = .auto
    ) throws {
        Torch.useAllCores()
        let saved = try SavedModel(model)
        let dataset = try DataSource.labelled(
            data, nameColumn: nameColumn, labelColumn: labelColumn, classes: saved.classes)
        for p in dataset.problems { Feedback.warn("left out: \(p)") }
        let result = try saved.predict(
            dataset, ttaViews: tta ? saved.ttaViews() : 0, augmentation: saved.augmentation(),
            mixedPrecision: saved.predictsInBF16(precision))
        self.saved = saved
        self.dataset = dataset
        probabilities = result.probabilities
        items = result.items.map { dataset.items[$0] }
        skipped = dataset.problems + result.skipped
        for p in result.skipped { Feedback.warn("skipped: \(p)") }
        guard !items.isEmpty else { throw WorkflowError("none of the images in \(data.path) could be read") }
        labels = try items.labels()
    }

    /// The true class of each predicted image.
    public var labels: [Int]
}
