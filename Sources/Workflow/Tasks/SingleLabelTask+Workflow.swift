import Foundation
import Learn
import NN
import Report
import Torch
import Vision

/// One class per photo in the workflow: a class column (or class folders), stratified by class, a temperature and
/// (for two classes) a threshold fitted on validation, scored by accuracy and ROC AUC, and a softmax at the end of
/// the ONNX graph.
extension SingleLabelTask: TaskWorkflow {
    public var scoreNames: ScoreNames { ScoreNames(accuracy: "accuracy", rocAUC: "ROC AUC") }

    public func labelled(_ data: URL, columns: LabelColumns, among classes: [String]?) throws -> ImageDataset {
        try DataSource.labelled(data, nameColumn: columns.name, labelColumn: columns.label, classes: classes)
    }

    public func labelledTest(besides data: URL, columns: LabelColumns, among classes: [String]) throws -> ImageDataset?
    {
        try DataSource.labelledTest(
            besides: data, classes: classes, nameColumn: columns.name, labelColumn: columns.label)
    }

    /// "1968 images, not defective: 1352, defective: 616".
    public func census(_ dataset: ImageDataset) throws -> [String] {
        let counts = zip(dataset.classes, dataset.classCounts).map { "\($0): \($1)" }.joined(separator: ", ")
        return ["\(dataset.items.count) images" + (counts.isEmpty ? "" : ", " + counts)]
    }

    /// Confident learning on each photo's out-of-fold class probabilities.
    public func audit(
        _ dataset: ImageDataset, options: LabelAudit.Options, top: Int, title: String, to folder: URL,
        say: (String) -> Void
    ) throws {
        let outcome = try LabelAudit(options: options).run(dataset, emit: say)
        for p in outcome.skipped { Feedback.warn("skipped: \(p)") }
        let summary = LabelAudit.summary(outcome, folds: options.folds, repeats: options.repeats, predictions: nil)
        for line in summary { say(line) }
        try LabelAudit.writeReport(
            outcome, classes: dataset.classes, summary: summary, top: top, title: title, to: folder)
    }

    public func stratificationLabels(_ dataset: ImageDataset) throws -> [Int] { try dataset.items.labels() }

    public func split(_ dataset: ImageDataset, fraction: Double, seed: UInt64) throws -> (train: [Int], valid: [Int]) {
        Split.random(
            count: dataset.items.count, fraction: fraction, seed: seed, labels: try stratificationLabels(dataset))
    }

    public func folds(_ dataset: ImageDataset, count: Int, seed: UInt64) throws -> [Int] {
        ConfidentLearning.folds(labels: try stratificationLabels(dataset), folds: count, seed: seed)
    }

    public func fitCalibration(
        plain: [[Double]], tta: [[Double]]?, truth: [[Bool]], classes: [String], options: TrainOptions
    ) throws -> FittedCalibration {
        let labels = Self.classes(truth)
        func fitted(_ p: [[Double]]) -> Calibration {
            Calibration.fit(
                probabilities: p, labels: labels, goal: options.decisionGoal, targetRecall: options.targetRecall?.all)
        }
        let both = ModelCalibration(plain: fitted(plain), tta: tta.map(fitted))
        let shown = both.tta ?? both.plain
        let width = classes.count
        return FittedCalibration(
            key: "calibration", json: String(decoding: try JSONEncoder().encode(both), as: UTF8.self),
            apply: shown.apply,
            decide: { p in
                let decided = shown.decide(p)
                return (0..<width).map { $0 == decided }
            }, thresholds: [],
            summary: { raw, truth in Self.summary(shown, raw: raw, labels: Self.classes(truth)) })
    }

    public func headline(_ score: SetScore) -> (accuracy: Double, rocAUC: Double) {
        let labels = Self.classes(score.truth)
        return (
            Metrics.accuracy(decisions: Self.classes(score.decided), labels: labels),
            Metrics.rocAUC(probabilities: score.probabilities, labels: labels)
        )
    }

    /// The report shows the confusion matrix from the probabilities and the calibration alone.
    public func describe(_ input: inout EvaluationInput, truth: [[Bool]], saved: SavedModel, tta: Bool) {}

    public func evaluationLines(_ p: LabelledPredictions, tta: Bool) -> [String] {
        EvaluationSummary.classLines(p, tta: tta)
    }

    public func interpretationLine(_ p: LabelledPredictions, tta: Bool) -> String {
        let calibration = p.saved.calibration(tta: tta)
        let decisions = p.probabilities.map { calibration?.decide($0) ?? Metrics.argmax($0) }
        return String(
            format: "accuracy %.4f on %d images%@", Metrics.accuracy(decisions: decisions, labels: p.labels),
            p.items.count, calibration?.threshold.map { " at threshold \(Calibration.thresholdText($0))" } ?? "")
    }

    /// The calibration fitted at training, as `predict` applies it: softmax(logits / T + (0, bias)).
    public func exportProbabilities(_ saved: SavedModel, into graph: inout InferenceGraph) throws {
        var scaled = "logits"
        let calibration = saved.calibration(tta: false)
        if let t = calibration?.temperature, t != 1 {
            scaled = graph.add(
                "Div", [scaled, try graph.constant(Tensor([Float(t)], shape: []), name: "temperature")])
        }
        if let bias = calibration?.bias, saved.classes.count == 2 {  // as `apply` does: two classes only
            scaled = graph.add(
                "Add", [scaled, try graph.constant(Tensor([0, Float(bias)], shape: [2]), name: "bias")])
        }
        graph.add("Softmax", [scaled], [("axis", .int(1))], output: "probabilities")
    }

    public func exportMetadata(_ saved: SavedModel, encoder: JSONEncoder) throws -> [(String, String)] {
        let calibration = saved.calibration(tta: false)
        var metadata = [
            (
                "output",
                "logits, and probabilities = softmax(logits / temperature + (0, bias)), N×\(saved.classes.count), "
                    + "in the order of `classes`"
            ),
            ("temperature", String(calibration?.temperature ?? 1)),
            ("bias", String(calibration?.bias ?? 0)),
        ]
        if let threshold = calibration?.threshold {
            metadata.append(("threshold", String(threshold)))
            metadata.append(
                ("decision", "class \(saved.classes[1]) when its probability ≥ threshold, else \(saved.classes[0])"))
        }
        return metadata
    }

    public func targets(_ labels: [[Int]], classCount: Int) throws -> Tensor {
        try Tensor(labels.map { Int64($0.first ?? 0) })
    }

    /// 1 − (top probability − second): the margin between the two likeliest classes.
    public func uncertainty(_ p: [Double]) -> Double {
        let sorted = p.sorted(by: >)
        return 1 - ((sorted.first ?? 0) - (sorted.dropFirst().first ?? 0))
    }

    /// 1 − the probability of the given class.
    public func disagreement(_ p: [Double], given: Set<Int>) -> Double { 1 - p[given.min() ?? 0] }

    /// Confident learning's flagged photos, in its order.
    public func suspects(_ probabilities: [[Double]], labels: [[Int]], classCount: Int) -> [Int] {
        ConfidentLearning.audit(probabilities: probabilities, labels: labels.map { $0.first ?? 0 }, classes: classCount)
            .filter(\.flagged).map(\.index)
    }

    /// Each photo's class from its 0/1 row (the first class marked; -1 for none, which no labelled photo has).
    static func classes(_ rows: [[Bool]]) -> [Int] { rows.map { $0.firstIndex(of: true) ?? -1 } }

    /// "calibration: temperature 1.31, log loss 0.412 → 0.377, expected calibration error 0.052 → 0.021; threshold
    /// 0.500 (accuracy: the more probable class, after calibration)"; a bias follows the temperature ("temperature
    /// 1.24, bias +0.57 on the second class's log-odds"). The log loss is what the fit lowers; the calibration error
    /// (15 bins of the top class's confidence) is coarser and on a few hundred photos can rise while it falls.
    static func summary(_ shown: Calibration, raw: [[Double]], labels: [Int]) -> String {
        let calibrated = raw.map(shown.apply)
        return String(format: "calibration: temperature %.2f", shown.temperature)
            + (shown.bias.map { String(format: ", bias %+.2f on the second class's log-odds", $0) } ?? "")
            + String(
                format: ", log loss %.3f → %.3f, expected calibration error %.3f → %.3f",
                Metrics.logLoss(probabilities: raw, labels: labels),
                Metrics.logLoss(probabilities: calibrated, labels: labels),
                Calibration.expectedCalibrationError(probabilities: raw, labels: labels),
                Calibration.expectedCalibrationError(probabilities: calibrated, labels: labels))
            + (shown.threshold.map { "; threshold \(Calibration.thresholdText($0)) (\(shown.ruleDescription))" } ?? "")
            + (shown.temperatureNote.map { "; temperature \($0)" } ?? "")
    }
}
