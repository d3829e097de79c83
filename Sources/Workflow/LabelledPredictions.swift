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
        let dataset = try Self.read(data, for: saved, nameColumn: nameColumn, labelColumn: labelColumn)
        for p in dataset.problems { Feedback.warn("left out: \(p)") }
        let result = try saved.predict(
            dataset, ttaViews: tta ? saved.ttaViews() : 0, augmentation: saved.augmentation(),
            mixedPrecision: saved.prepareInference(precision))
        self.saved = saved
        self.dataset = dataset
        probabilities = result.probabilities
        items = result.items.map { dataset.items[$0] }
        skipped = dataset.problems + result.skipped
        for p in result.skipped { Feedback.warn("skipped: \(p)") }
        guard !items.isEmpty else { throw WorkflowError("none of the images in \(data.path) could be read") }
        truth = items.map { $0.indicators(classCount: saved.classes.count) }
    }

    /// The true class of each predicted image (single-label models: the first class its row of ``truth`` marks).
    public var labels: [Int] { SingleLabelTask.classes(truth) }
    /// Each predicted image's labels as 0/1 per class of the model (its class, for single-label models).
    public var truth: [[Bool]]

    /// The labelled photos of `data` as `saved`'s task reads them, among its classes (a multi-label model's label sets
    /// split as its training split them).
    static func read(
        _ data: URL, for saved: SavedModel, nameColumn: String?, labelColumn: String?
    ) throws -> ImageDataset {
        let delimiter = try saved.trainOptions()?.labelDelimiter ?? " "
        return try saved.task.workflow.labelled(
            data, columns: LabelColumns(name: nameColumn, label: labelColumn, delimiter: delimiter),
            among: saved.classes)
    }
}
