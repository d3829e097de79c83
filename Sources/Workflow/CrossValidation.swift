import Foundation
import Learn
import Torch
import Vision

/// `train --folds K`: K training runs on stratified, seeded folds (each fold validates the model trained on the
/// others), then in the run folder:
///
/// - `fold-1/ … fold-K/`: each run's folder (model, history, report);
/// - `oof_predictions.csv`: every labelled image's out-of-fold prediction (calibrated on all of them);
/// - `cross_validation.csv`: each fold's accuracy and ROC AUC, then their mean and standard deviation;
/// - `model.safetensors`: the K models as one ensemble bundle, which `predict`, `evaluate` and `serve` read as
///   one model whose probabilities are the members' average, calibrated on the out-of-fold predictions.
public struct CrossValidation {
    public var options: TrainOptions
    public var folds: Int
    public var group: ProcessGroup?

    public init(options: TrainOptions, folds: Int, group: ProcessGroup? = nil) {
        (self.options, self.folds, self.group) = (options, folds, group)
    }

    /// What cross-validation measured.
    public struct Outcome: Sendable {
        public var accuracies: [Double], aucs: [Double]
        public var modelURL: URL
    }

    public func run() throws -> Outcome {
        let dataset = try TrainingRun(options: options).readLabelled()
        let labelled = dataset.items.filter { $0.label != nil || $0.labelSet != nil }.count
        guard labelled == dataset.items.count, folds >= 2, folds <= labelled else {
            throw WorkflowError("--folds \(folds) needs 2 to \(labelled) labelled images per fold split")
        }
        let size = options.size ?? options.arch.defaultSize
        let cache = PresizeCache(shorterSide: options.presize ?? PresizeCache.defaultShorterSide(forSize: size))
        // Rank 0 draws the folds and shares them: the duplicate search behind them compares float similarities
        // with a threshold, which two machines could round to different sides.
        let draw = {
            try SplitGrouping(options).folds(
                dataset, task: options.task.workflow, cache: cache, folds: folds, seed: options.seed)
        }
        let assignment = try group.map { try $0.share($0.rank == 0 ? try draw() : nil) } ?? draw()
        let out = URL(fileURLWithPath: options.out)
        var outcomes: [TrainingOutcome] = []
        var scores: [RunScores] = []
        for k in 0..<folds {
            Feedback.log("== fold \(k + 1) of \(folds)")
            var fold = options
            fold.out = out.appendingPathComponent("fold-\(k + 1)").path
            var run = TrainingRun(options: fold, group: group)
            run.validation = assignment.indices.filter { assignment[$0] == k }
            // The folds' models are scored on their folds; a labelled test/ is for the ensemble (`evaluate`).
            run.heldOut = .none
            let (outcome, scored) = try run.runStages()
            outcomes.append(outcome)
            if let scored { scores.append(scored) }
        }
        let leads = (group?.rank ?? 0) == 0
        let modelURL = out.appendingPathComponent("model.safetensors")
        let outcome = Outcome(
            accuracies: outcomes.map(\.validAccuracy), aucs: outcomes.map(\.validAUC), modelURL: modelURL)
        guard leads else { return outcome }
        try write(outcomes, scores: scores, classes: dataset.classes, to: out)
        let (accuracy, auc) = (outcome.accuracies.meanAndDeviation, outcome.aucs.meanAndDeviation)
        let names = options.task.workflow.scoreNames
        Feedback.log(
            String(
                format: "cross-validation, %d folds: %@ %.4f ± %.4f, %@ %.4f ± %.4f (mean ± sd)", folds,
                names.accuracy, accuracy.mean, accuracy.sd, names.rocAUC, auc.mean, auc.sd))
        return outcome
    }

    /// Out-of-fold predictions, the per-fold table and the ensemble bundle.
    /// `scores` are each fold's validation scores: its probabilities as the network gives them (not calibrated), plain
    /// and with TTA (the same when there is none).
    func write(_ outcomes: [TrainingOutcome], scores: [RunScores], classes: [String], to out: URL) throws {
        let items = scores.flatMap(\.validation.items), truth = scores.flatMap(\.validation.truth)
        let plain = scores.flatMap(\.validPlain), tta = scores.flatMap(\.validation.uncalibrated)
        let ttaUsed = scores.contains { $0.validPlain != $0.validation.uncalibrated }
        try writeTable(outcomes, scores: scores, count: items.count, to: out)
        // The calibration (each label's, for multi-label data) fitted on every fold's out-of-fold probabilities.
        let task = options.task.workflow
        let calibration = try task.fitCalibration(
            plain: plain, tta: ttaUsed ? tta : nil, truth: truth, classes: classes, options: options)
        let calibrated = tta.map(calibration.apply)
        try PredictionsFile.write(
            probabilities: calibrated, items: items, classes: classes,
            decided: task.decidesEachClass ? calibrated.map(calibration.decide) : nil,
            to: out.appendingPathComponent("oof_predictions.csv"))
        try Self.bundle(
            outcomes.map(\.modelURL), calibration: [calibration.key: calibration.json],
            to: out.appendingPathComponent("model.safetensors"))
    }

    /// `cross_validation.csv`: each fold's photos, accuracy and ROC AUC (exact match and mean ROC AUC over labels for
    /// multi-label data), then their mean and standard deviation.
    func writeTable(_ outcomes: [TrainingOutcome], scores: [RunScores], count: Int, to out: URL) throws {
        var table = "fold,images,\(options.task.workflow.scoreNames.accuracyKey),roc_auc\n"
        for (k, (o, s)) in zip(outcomes, scores).enumerated() {
            table += String(format: "%d,%d,%.4f,%.4f\n", k + 1, s.validation.items.count, o.validAccuracy, o.validAUC)
        }
        let accuracy = outcomes.map(\.validAccuracy).meanAndDeviation
        let auc = outcomes.map(\.validAUC).meanAndDeviation
        table += String(format: "mean,%d,%.4f,%.4f\n", count, accuracy.mean, auc.mean)
        table += String(format: "sd,,%.4f,%.4f\n", accuracy.sd, auc.sd)
        try AtomicFile.write(table, to: out.appendingPathComponent("cross_validation.csv"))
    }

    /// The members' model files as one ensemble file: each member's weights under `member<k>.`, the first
    /// member's description (architecture, classes, size, preprocessing, options, task) and the given calibration
    /// entries (`calibration`, or a multi-label model's `label_calibration`).
    public static func bundle(_ members: [URL], calibration: [String: String], to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        var metadata: [String: String] = [:]
        for (k, member) in members.enumerated() {
            let (state, entries) = try Learner.readCheckpoint(member)
            for (key, t) in state where key.hasPrefix("model.") { tensors["member\(k).\(key)"] = t }
            if k == 0 {
                let kept = [
                    "arch", "classes", "size", "presize", "normalization", "head", "options", "quadrat_version",
                    "trained_at", "libtorch_version", "label_column", "format", "resize", "class_names", "task",
                ]
                for key in kept { metadata[key] = entries[key] }
            }
        }
        metadata["ensemble"] = String(members.count)
        metadata.merge(calibration) { _, given in given }
        try Safetensors.write(tensors, metadata: metadata, to: url)
    }
}
