import Foundation
import Learn
import NN
import Report
import Torch
import Vision

/// The workflow's side of a ``ClassificationTask``: how its labelled photos are read, described and split, how a run
/// fits the calibration that decides and scores a set with it, what `evaluate`, `interpret` and the report say, how
/// the ONNX export ends, how `audit` looks for wrong labels and what `review` asks about first.
///
/// The training run, cross-validation, the split, `evaluate`, `interpret`, the export, `check`, `audit` and `review`
/// ask the task for each of these and never ask which task it is. A new task is its ``ClassificationTask`` file, its
/// ``TaskWorkflow`` file, its case in ``TaskKind`` with its line in ``TaskKind/task``, and its line in
/// ``TaskKind/workflow``.
public protocol TaskWorkflow: ClassificationTask {
    /// What a set's headline scores are called in lines and tables: "accuracy" and "ROC AUC" for one class per photo.
    var scoreNames: ScoreNames { get }

    /// The labelled photos of `data` (a folder, or a labels CSV) in `columns`; with `classes`, read as a model with
    /// those classes reads them (labels it does not know are left out, each reported).
    func labelled(_ data: URL, columns: LabelColumns, among classes: [String]?) throws -> ImageDataset
    /// The labelled `test/` folder beside `data` (its labels in `test_labels.csv` or `labels.csv`), among the
    /// training's `classes`; nil when there is none.
    func labelledTest(besides data: URL, columns: LabelColumns, among classes: [String]) throws -> ImageDataset?

    /// What `check` says of labelled data before its problems: the photos and what their labels are.
    func census(_ dataset: ImageDataset) throws -> [String]
    /// `audit`: trains heads on the body's features fold by fold and flags the photos whose labels look wrong, as
    /// `options` ask; says its progress and summary, then writes `audit.csv` and `audit.html` into `folder`.
    func audit(
        _ dataset: ImageDataset, options: LabelAudit.Options, top: Int, title: String, to folder: URL,
        say: (String) -> Void
    ) throws

    /// The class each photo is stratified by when whole groups are moved (a grouped split, grouped folds).
    func stratificationLabels(_ dataset: ImageDataset) throws -> [Int]
    /// A stratified random split of `dataset` (indices), `fraction` of it for validation.
    func split(_ dataset: ImageDataset, fraction: Double, seed: UInt64) throws -> (train: [Int], valid: [Int])
    /// Stratified folds: the fold (0..<`count`) of each photo of `dataset`.
    func folds(_ dataset: ImageDataset, count: Int, seed: UInt64) throws -> [Int]

    /// The calibration fitted on validation probabilities against `truth` (0/1 per class), for plain predictions
    /// and, when the run used TTA, for TTA's (then the one the scores use), as `options` ask for the decisions.
    func fitCalibration(
        plain: [[Double]], tta: [[Double]]?, truth: [[Bool]], classes: [String], options: TrainOptions
    ) throws -> FittedCalibration
    /// The headline scores of a set scored with a fitted calibration, as ``scoreNames`` names them.
    func headline(_ score: SetScore) -> (accuracy: Double, rocAUC: Double)

    /// What a report's evaluation section needs beyond the probabilities and `saved`'s calibration: each photo's
    /// `truth` and the thresholds, where the task shows its own section.
    func describe(_ input: inout EvaluationInput, truth: [[Bool]], saved: SavedModel, tta: Bool)
    /// What `evaluate` prints for a model's predictions on a labelled folder.
    func evaluationLines(_ p: LabelledPredictions, tta: Bool) -> [String]
    /// `interpret`'s one line: the headline score on the folder (the report's path and time are added to it).
    func interpretationLine(_ p: LabelledPredictions, tta: Bool) -> String

    /// The ONNX graph's `probabilities` from its `logits`, calibrated as `predict` calibrates them.
    func exportProbabilities(_ saved: SavedModel, into graph: inout InferenceGraph) throws
    /// What the ONNX metadata says of the outputs and the decision, with the calibration's numbers.
    func exportMetadata(_ saved: SavedModel, encoder: JSONEncoder) throws -> [(String, String)]

    /// The targets of photos with classes `labels` as the loss wants them (`review`'s heads on pooled features).
    func targets(_ labels: [[Int]], classCount: Int) throws -> Tensor
    /// How unsure a model is of a photo with probabilities `p`, 0 (sure) to 1: what `review` asks about first.
    func uncertainty(_ p: [Double]) -> Double
    /// How far probabilities `p` are from a photo's `given` classes, 0 to 1: `review`'s "mistakes" queue.
    func disagreement(_ p: [Double], given: Set<Int>) -> Double
    /// The photos whose given `labels` look wrong by their out-of-fold `probabilities` (indices into both), most
    /// suspect first: `review`'s "suspects" queue.
    func suspects(_ probabilities: [[Double]], labels: [[Int]], classCount: Int) -> [Int]
}

extension TaskKind {
    /// The task with its workflow (``TaskKind/task`` with what the workflow asks of it).
    public var workflow: any TaskWorkflow {
        switch self {
        case .singleLabel: return SingleLabelTask()
        case .multiLabel: return MultiLabelTask()
        }
    }
}

/// What a set's headline scores are called: in lines ("exact match") and in a CSV header ("exact_match").
public struct ScoreNames: Sendable, Equatable {
    public var accuracy: String
    public var rocAUC: String

    /// The accuracy's name as a column or key: spaces become underscores.
    public var accuracyKey: String { accuracy.replacingOccurrences(of: " ", with: "_") }
}

/// Where a labels CSV keeps each photo's name and labels, and how a multi-label cell separates its labels.
public struct LabelColumns: Sendable {
    public var name: String?
    public var label: String?
    public var delimiter: String

    public init(name: String? = nil, label: String? = nil, delimiter: String = " ") {
        (self.name, self.label, self.delimiter) = (name, label, delimiter)
    }

    /// The columns a training run's options name.
    public init(_ options: TrainOptions) {
        self.init(name: options.nameColumn, label: options.labelColumn, delimiter: options.labelDelimiter)
    }
}

/// A calibration fitted at training, whatever the task: the model file's entry that stores it (plain and TTA), and
/// the one the run's scores use (TTA's when the run used TTA), which calibrates a photo's probabilities and decides
/// its classes.
public struct FittedCalibration: Sendable {
    /// The model file's metadata key and its JSON value.
    public var key: String
    public var json: String
    /// Calibrated probabilities from the network's.
    public var apply: @Sendable ([Double]) -> [Double]
    /// The classes decided for calibrated probabilities, 0/1 per class.
    public var decide: @Sendable ([Double]) -> [Bool]
    /// Each label's threshold, where each class is decided on its own (empty otherwise).
    public var thresholds: [Double]
    /// The log line on the fit, for the network's probabilities `raw` of photos with labels `truth`.
    public var summary: @Sendable (_ raw: [[Double]], _ truth: [[Bool]]) -> String
}
