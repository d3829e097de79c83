import Foundation
import Learn
import Report
import Torch
import Vision

extension LabelAudit {
    /// What `quadrat audit` prints: the out-of-fold scores (from the audit's own folds, or from the predictions file
    /// it was given) and how many photos are flagged.
    public static func summary(_ outcome: Outcome, folds: Int, repeats: Int, predictions: String?) -> [String] {
        let accuracy = outcome.foldAccuracies.meanAndDeviation, auc = outcome.foldAUCs.meanAndDeviation
        let scores =
            predictions.map {
                String(
                    format: "%d photos, predictions from %@: out-of-fold accuracy %.4f, ROC AUC %.4f",
                    outcome.items.count, $0, accuracy.mean, auc.mean)
            }
            ?? String(
                format: "%d photos, %d folds × %d repeats: out-of-fold accuracy %.4f ± %.4f, ROC AUC %.4f ± %.4f "
                    + "(mean ± sd over folds); averaged over the repeats: accuracy %.4f, ROC AUC %.4f",
                outcome.items.count, folds, repeats, accuracy.mean, accuracy.sd, auc.mean, auc.sd,
                Metrics.accuracy(probabilities: outcome.probabilities, labels: outcome.labels),
                Metrics.rocAUC(probabilities: outcome.probabilities, labels: outcome.labels))
        let flagged = outcome.verdicts.filter(\.flagged).count
        let share = String(format: "%.1f", 100 * Double(flagged) / Double(max(1, outcome.items.count)))
        return [scores, "\(flagged) photos flagged as likely label errors (\(share)%)"]
    }

    /// Writes `audit.csv` (every photo, ranked) and `audit.html` (the confident joint and the `top` photos most
    /// likely mislabelled, with `summary` above them) into `folder`.
    public static func writeReport(
        _ outcome: Outcome, classes: [String], summary: [String], top: Int, title: String, to folder: URL
    ) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try AtomicFile.write(csv(outcome, classes: classes), to: folder.appendingPathComponent("audit.csv"))
        let joint = ConfidentLearning.confidentJoint(
            probabilities: outcome.probabilities, labels: outcome.labels, classes: classes.count)
        let rows = outcome.verdicts.prefix(top).map { v in
            AuditPage.Row(
                item: outcome.items[v.index], given: classes[v.given], suspected: classes[v.suspected], verdict: v,
                probabilities: outcome.probabilities[v.index])
        }
        let html = AuditPage.html(
            title: title, summary: summary, classes: classes, joint: joint, rows: rows, cache: nil)
        try AtomicFile.write(html, to: folder.appendingPathComponent("audit.html"))
    }
}
