import Foundation
import Torch

/// What a classifier is asked, and what follows from it: how the network's scores become probabilities, the loss
/// that trains it, the metrics recorded each epoch and the one watched by default, and how probabilities become
/// decisions (fastai's loss function with its `activation` and `decodes`, grown to what Quadrat does with it).
///
/// The labels a ``Learner`` returns with its probabilities are the batch targets' values in row order: a class index
/// per photo for a single-label task, and one 0/1 per label and photo for a multi-label one. Each task reads them
/// back with ``truth(_:labelCount:)``.
public protocol ClassificationTask: Sendable {
    /// What the model file and the options call it.
    var kind: TaskKind { get }
    /// Probabilities (N × C) from the network's scores (logits, N × C).
    func activate(_ logits: Tensor) throws -> Tensor
    /// The training loss of logits against a batch's targets; `weights`, one per class, weigh a class's photos
    /// (single-label) or a label's positives (multi-label), as `--class-weights auto` chooses them.
    func loss(weights: [Double]?) throws -> @Sendable (Tensor, Tensor) throws -> Tensor
    /// `--class-weights auto` for training photos of which `counts[c]` have class (or label) c, of `total` photos.
    func balancingWeights(counts: [Int], total: Int) -> [Double]
    /// The metrics recorded after each epoch, for `classCount` classes or labels.
    func metrics(classCount: Int) -> [Metric]
    /// Each photo's labels as 0/1 per class, from the labels a ``Learner`` returns.
    func truth(_ labels: [Int], labelCount: Int) -> [[Bool]]
    /// The classes decided for one photo's probabilities before any threshold is fitted: the most probable class
    /// (single-label), or each label at probability ≥ 0.5 (multi-label).
    func plainDecisions(_ probabilities: [Double]) -> [Bool]
    /// Random targets for `count` photos, as a batch holds them (the machine probe's synthetic batches).
    func randomTargets(count: Int, classCount: Int) throws -> Tensor
    /// The metrics keep-best and early stopping may watch, by name, the default first (`valid_loss` is always one).
    var monitorable: [String] { get }
    /// What decision thresholds serve when `--decide-for auto`.
    var defaultDecisionGoal: DecisionGoal { get }
    /// Whether each class is decided on its own, at a threshold of its own (so `--target-recall` may name one),
    /// rather than one class per photo (so `--class-names` may rename them).
    var decidesEachClass: Bool { get }
    /// The share of the head's rate the body's rates are derived from. The LR finder times the head alone, and a head
    /// that moves its decisions slowly per step takes a higher rate than the body should: under Adam each of a
    /// two-class softmax's two rows moves a step and their difference decides, where a sigmoid's one row moves one,
    /// so a sigmoid head takes about twice the rate for the same decisions while the body's gradient is the same.
    var bodyRateShare: Double { get }
}

/// The tasks Quadrat trains for (`train --task`); the one place that maps a name to its ``ClassificationTask``.
public enum TaskKind: String, Codable, Sendable, CaseIterable {
    /// One class per photo: softmax and cross-entropy.
    case singleLabel = "single-label"
    /// Any number of labels per photo, none included: a sigmoid per label and binary cross-entropy.
    case multiLabel = "multi-label"

    public var task: any ClassificationTask {
        switch self {
        case .singleLabel: return SingleLabelTask()
        case .multiLabel: return MultiLabelTask()
        }
    }
}

/// One class per photo: the softmax of the logits, cross-entropy, accuracy (and ROC AUC for two classes).
public struct SingleLabelTask: ClassificationTask {
    public init() {}
    public var kind: TaskKind { .singleLabel }

    public func activate(_ logits: Tensor) throws -> Tensor { try Functional.softmax(logits, dim: 1) }

    public func loss(weights: [Double]?) throws -> @Sendable (Tensor, Tensor) throws -> Tensor {
        let weight = try weights.map { try Tensor($0.map(Float.init)) }
        return { try Functional.crossEntropy($0, target: $1, weight: weight) }
    }

    /// n / (classes × n_c): rare classes weigh more, each class the same in total.
    public func balancingWeights(counts: [Int], total: Int) -> [Double] {
        let n = Double(counts.reduce(0, +)), k = Double(counts.count)
        return counts.map { $0 > 0 ? n / (k * Double($0)) : 0 }
    }

    public func metrics(classCount: Int) -> [Metric] { classCount == 2 ? [.accuracy, .rocAUC] : [.accuracy] }

    public func truth(_ labels: [Int], labelCount: Int) -> [[Bool]] {
        labels.map { label in (0..<labelCount).map { $0 == label } }
    }

    public func plainDecisions(_ probabilities: [Double]) -> [Bool] {
        let best = Metrics.argmax(probabilities)
        return probabilities.indices.map { $0 == best }
    }

    public func randomTargets(count: Int, classCount: Int) throws -> Tensor {
        try (Tensor.rand([count]) * Double(classCount)).floor().to(.int64)
    }

    public var monitorable: [String] { ["valid_loss", Metric.accuracy.name, Metric.rocAUC.name] }
    public var defaultDecisionGoal: DecisionGoal { .accuracy }
    public var decidesEachClass: Bool { false }
    public var bodyRateShare: Double { 1 }
}

/// Any number of labels per photo: a sigmoid per label, binary cross-entropy, and the metrics of
/// ``MultiLabelScores`` at 0.5 (the decided thresholds come later, from validation).
public struct MultiLabelTask: ClassificationTask {
    public init() {}
    public var kind: TaskKind { .multiLabel }

    public func activate(_ logits: Tensor) throws -> Tensor { try logits.sigmoid() }

    public func loss(weights: [Double]?) throws -> @Sendable (Tensor, Tensor) throws -> Tensor {
        let positive = try weights.map { try Tensor($0.map(Float.init)) }
        return { try Functional.binaryCrossEntropyWithLogits($0, target: $1, positiveWeight: positive) }
    }

    /// Negatives over positives per label (PyTorch's advice for `pos_weight`): a label on a tenth of the photos
    /// weighs its positives 9 times. A label no training photo has weighs 1.
    public func balancingWeights(counts: [Int], total: Int) -> [Double] {
        counts.map { $0 > 0 ? Double(total - $0) / Double($0) : 1 }
    }

    public func metrics(classCount: Int) -> [Metric] { [.meanAveragePrecision, .macroF1, .accuracyMulti] }

    public func truth(_ labels: [Int], labelCount: Int) -> [[Bool]] {
        guard labelCount > 0 else { return [] }
        return stride(from: 0, to: labels.count - labelCount + 1, by: labelCount).map { start in
            labels[start..<(start + labelCount)].map { $0 != 0 }
        }
    }

    public func plainDecisions(_ probabilities: [Double]) -> [Bool] { probabilities.map { $0 >= 0.5 } }

    public func randomTargets(count: Int, classCount: Int) throws -> Tensor {
        try (Tensor.rand([count, classCount]) * 2).floor()
    }

    public var monitorable: [String] { [Metric.meanAveragePrecision.name, Metric.macroF1.name, "valid_loss"] }
    public var defaultDecisionGoal: DecisionGoal { .f1 }
    public var decidesEachClass: Bool { true }
    /// A sigmoid per label: half the head's rate (see ``ClassificationTask/bodyRateShare``).
    public var bodyRateShare: Double { 0.5 }
}

extension Metric {
    /// The mean over labels of the average precision (multi-label; the default monitor there).
    public static let meanAveragePrecision = Metric(name: "map", higherIsBetter: true) {
        multiLabelScores($0, $1)?.meanAveragePrecision ?? .nan
    }
    /// The mean over labels of F1 at 0.5 (multi-label).
    public static let macroF1 = Metric(name: "macro_f1", higherIsBetter: true) {
        multiLabelScores($0, $1)?.macroF1 ?? .nan
    }
    /// The share of (photo, label) decisions at 0.5 that are right (fastai's `accuracy_multi`).
    public static let accuracyMulti = Metric(name: "accuracy_multi", higherIsBetter: true) {
        multiLabelScores($0, $1)?.accuracyMulti ?? .nan
    }

    /// The scores at 0.5 of probabilities against a learner's flattened multi-label targets; nil when they do not fit.
    private static func multiLabelScores(_ probabilities: [[Double]], _ labels: [Int]) -> MultiLabelScores? {
        let width = probabilities.first?.count ?? 0
        let truth = MultiLabelTask().truth(labels, labelCount: width)
        // Rows of another width (a learner never returns them) score NaN rather than stop training.
        return try? MultiLabelScores(
            probabilities: probabilities, labels: truth, thresholds: Array(repeating: 0.5, count: width))
    }
}
