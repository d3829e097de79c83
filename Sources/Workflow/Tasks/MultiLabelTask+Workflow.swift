import Foundation
import Learn
import NN
import Report
import Torch
import Vision

/// Any number of labels per photo in the workflow: a column listing each photo's labels, iterative stratification,
/// a temperature and threshold per label fitted on validation, scored by exact match and the mean ROC AUC over
/// labels, and a sigmoid per label at the end of the ONNX graph.
extension MultiLabelTask: TaskWorkflow {
    public var scoreNames: ScoreNames { ScoreNames(accuracy: "exact match", rocAUC: "mean ROC AUC") }

    public func labelled(_ data: URL, columns: LabelColumns, among classes: [String]?) throws -> ImageDataset {
        let sets = try LabelSets.read(
            data, nameColumn: columns.name, labelColumn: columns.label, delimiter: columns.delimiter)
        return classes.map { sets.dataset(among: $0) } ?? sets.dataset
    }

    public func labelledTest(besides data: URL, columns: LabelColumns, among classes: [String]) throws -> ImageDataset?
    {
        let folder = DataSource.testFolder(besides: data)
        guard DataSource.labelsCSV(for: folder) != nil else { return nil }
        return try labelled(folder, columns: columns, among: classes)
    }

    /// The label vocabulary with each label's count, the photos with none, and the validation part a run would hold
    /// out (each label's share kept by iterative stratification).
    public func census(_ dataset: ImageDataset) throws -> [String] {
        let counts = dataset.classCounts
        let listed = zip(dataset.classes, counts).map { "\($0): \($1)" }.joined(separator: ", ")
        let none = dataset.items.filter { $0.labelSet?.isEmpty ?? true }.count
        let valid = try split(dataset, fraction: 0.2, seed: 42).valid
        let held = dataset.classes.indices.map { k in valid.filter { dataset.items[$0].has(class: k) }.count }
        return [
            "\(dataset.items.count) images, \(dataset.classes.count) labels (\(listed)); \(none) with no label",
            "a 20 % validation part (iterative stratification, seed 42): \(valid.count) images; "
                + zip(zip(dataset.classes, held), counts).map { "\($0.0) \($0.1) of \($1)" }.joined(separator: ", "),
        ]
    }

    /// One-vs-rest confident learning: each label audited against the rest.
    public func audit(
        _ dataset: ImageDataset, options: LabelAudit.Options, top: Int, title: String, to folder: URL,
        say: (String) -> Void
    ) throws {
        let outcomes = try LabelAudit(options: options).runLabels(dataset)
        for p in outcomes.first?.outcome.skipped ?? [] { Feedback.warn("skipped: \(p)") }
        let summary = LabelAudit.labelSummary(outcomes)
        for line in summary { say(line) }
        try LabelAudit.writeLabelReport(outcomes, summary: summary, top: top, title: title, to: folder)
    }

    /// Each photo's rarest label (the label count for a photo with none), so that grouped splits keep rare labels on
    /// both sides as well as whole groups allow.
    public func stratificationLabels(_ dataset: ImageDataset) throws -> [Int] {
        let counts = dataset.classCounts
        return dataset.items.map { item in
            (item.labelSet ?? []).min { counts[$0] < counts[$1] } ?? dataset.classes.count
        }
    }

    /// Iterative stratification: every label keeps its share on both sides.
    public func split(_ dataset: ImageDataset, fraction: Double, seed: UInt64) throws -> (train: [Int], valid: [Int]) {
        Split.iterative(sets: Self.sets(dataset), labels: dataset.classes.count, fraction: fraction, seed: seed)
    }

    public func folds(_ dataset: ImageDataset, count: Int, seed: UInt64) throws -> [Int] {
        Split.iterativeFolds(sets: Self.sets(dataset), labels: dataset.classes.count, folds: count, seed: seed)
    }

    public func fitCalibration(
        plain: [[Double]], tta: [[Double]]?, truth: [[Bool]], classes: [String], options: TrainOptions
    ) throws -> FittedCalibration {
        func fitted(_ p: [[Double]]) -> LabelCalibration {
            LabelCalibration.fit(
                probabilities: p, truth: truth, goal: options.decisionGoal, targetRecall: options.targetRecall,
                names: classes)
        }
        let both = ModelLabelCalibration(plain: fitted(plain), tta: tta.map(fitted))
        let shown = both.tta ?? both.plain
        return FittedCalibration(
            key: ModelLabelCalibration.metadataKey,
            json: String(decoding: try JSONEncoder().encode(both), as: UTF8.self), apply: shown.apply,
            decide: shown.decide, thresholds: shown.thresholds,
            summary: { raw, truth in Self.summary(shown, raw: raw, truth: truth, classes: classes) })
    }

    public func headline(_ score: SetScore) -> (accuracy: Double, rocAUC: Double) {
        guard let scores = score.labelScores else { return (.nan, .nan) }
        let aucs = scores.labels.map(\.rocAUC).filter { !$0.isNaN }
        return (scores.exactMatch, aucs.isEmpty ? .nan : aucs.reduce(0, +) / Double(aucs.count))
    }

    /// The report's labels section: each photo's labels and each label's threshold.
    public func describe(_ input: inout EvaluationInput, truth: [[Bool]], saved: SavedModel, tta: Bool) {
        input.truth = truth
        input.labelCalibration = saved.labelCalibration(tta: tta)
    }

    public func evaluationLines(_ p: LabelledPredictions, tta: Bool) -> [String] {
        EvaluationSummary.labelLines(p, tta: tta)
    }

    public func interpretationLine(_ p: LabelledPredictions, tta: Bool) -> String {
        evaluationLines(p, tta: tta).dropFirst().prefix(2).joined(separator: ", ") + " on \(p.items.count) images"
    }

    /// Each label's temperature and bias, as `predict` applies them: sigmoid(logit / T + b) is the two-way p^(1/T)
    /// renormalised with b added to its log-odds.
    public func exportProbabilities(_ saved: SavedModel, into graph: inout InferenceGraph) throws {
        guard let labels = saved.labelCalibration(tta: false) else {
            graph.add("Sigmoid", ["logits"], output: "probabilities")
            return
        }
        let count = labels.labels.count
        let temperatures = try graph.constant(
            Tensor(labels.labels.map { Float($0.temperature) }, shape: [count]), name: "temperatures")
        var scaled = graph.add("Div", ["logits", temperatures])
        if labels.labels.contains(where: { $0.bias != nil }) {
            let biases = try graph.constant(
                Tensor(labels.labels.map { Float($0.bias ?? 0) }, shape: [count]), name: "biases")
            scaled = graph.add("Add", [scaled, biases])
        }
        graph.add("Sigmoid", [scaled], output: "probabilities")
    }

    public func exportMetadata(_ saved: SavedModel, encoder: JSONEncoder) throws -> [(String, String)] {
        let labels = saved.labelCalibration(tta: false)
        return [
            (
                "output",
                "logits, and probabilities = sigmoid(logits / temperatures + biases), N×\(saved.classes.count), "
                    + "one independent probability per label in the order of `classes`"
            ),
            ("task", "multi-label"),
            (
                "temperatures",
                String(decoding: try encoder.encode(labels?.labels.map(\.temperature) ?? []), as: UTF8.self)
            ),
            ("biases", String(decoding: try encoder.encode(labels?.labels.map { $0.bias ?? 0 } ?? []), as: UTF8.self)),
            ("thresholds", String(decoding: try encoder.encode(labels?.thresholds ?? []), as: UTF8.self)),
            ("decision", "each label whose probability ≥ its threshold (possibly none)"),
        ]
    }

    /// 0/1 rows, one column per label.
    public func targets(_ labels: [[Int]], classCount: Int) throws -> Tensor {
        let rows = labels.flatMap { set in (0..<classCount).map { set.contains($0) ? Float(1) : 0 } }
        return try Tensor(rows, shape: [labels.count, classCount])
    }

    /// 1 − 2·min |p − ½| over labels: the label closest to undecided.
    public func uncertainty(_ p: [Double]) -> Double { 1 - 2 * (p.map { abs($0 - 0.5) }.min() ?? 0.5) }

    /// The worst label's gap between its probability and whether the photo has it.
    public func disagreement(_ p: [Double], given: Set<Int>) -> Double {
        p.indices.map { abs((given.contains($0) ? 1 : 0) - p[$0]) }.max() ?? 0
    }

    /// The photos some label of which is more than 0.75 from its given value, the largest gap first.
    public func suspects(_ probabilities: [[Double]], labels: [[Int]], classCount: Int) -> [Int] {
        let gaps = zip(probabilities, labels).map { disagreement($0, given: Set($1)) }
        return gaps.indices.filter { gaps[$0] > 0.75 }.sorted { (gaps[$0], -$0) > (gaps[$1], -$1) }
    }

    /// Each photo's labels as a set (none for a photo without labels).
    static func sets(_ dataset: ImageDataset) -> [Set<Int>] { dataset.items.map { Set($0.labelSet ?? []) } }

    /// "labels (threshold, F1, average precision): mono 0.430 0.990 1.000; defective 0.380 0.830 0.900; …; macro F1
    /// 0.9204, mAP 0.9612, exact match 0.8384".
    static func summary(_ shown: LabelCalibration, raw: [[Double]], truth: [[Bool]], classes: [String]) -> String {
        // Rows and thresholds come from one model and one set: they always fit.
        guard
            let scores = try? MultiLabelScores(
                probabilities: raw.map(shown.apply), labels: truth, thresholds: shown.thresholds)
        else { return "labels: no score" }
        return "labels (threshold, F1, average precision): "
            + zip(classes, zip(shown.thresholds, scores.labels)).map { name, entry in
                String(format: "%@ %.3f %.3f %.3f", name, entry.0, entry.1.f1, entry.1.averagePrecision)
            }.joined(separator: "; ")
            + String(
                format: "; macro F1 %.4f, mAP %.4f, exact match %.4f", scores.macroF1, scores.meanAveragePrecision,
                scores.exactMatch)
    }
}
