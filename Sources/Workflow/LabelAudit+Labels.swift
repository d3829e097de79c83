import Foundation
import Learn
import Report
import Torch
import Vision

/// The audit of multi-label data: out-of-fold probabilities from heads with a sigmoid per label (the folds by
/// iterative stratification), then confident learning on each label against the rest, as cleanlab's multi-label
/// method does: for each label, a photo that has it but whose probability of it sits confidently low, or lacks it
/// while its probability is confidently high, is a suspect.
extension LabelAudit {
    /// One label's audit: a binary ``Outcome`` whose classes are the label's absence (0) and presence (1).
    public struct LabelOutcome {
        public var label: String
        public var outcome: Outcome
    }

    /// Audits `dataset` (multi-label) label by label; every outcome holds the same photos in the same order.
    public func runLabels(_ dataset: ImageDataset) throws -> [LabelOutcome] {
        let prepared = try features(dataset)
        let (items, c) = (prepared.items, dataset.classes.count)
        let truth = items.map { $0.indicators(classCount: c) }
        let task = MultiLabelTask()
        var sums = [[Double]](repeating: Array(repeating: 0, count: c), count: items.count)
        var foldScores: [[(accuracy: Double, auc: Double)]] = Array(repeating: [], count: c)
        let repeats = max(1, options.repeats)
        // Photos that belong together (--group-by, copies) stay in one fold, stratified by their rarest label.
        let groups = try auditGroups(items, labelsFile: dataset.labelsFile, cache: prepared.cache)
        var readable = dataset
        readable.items = items
        let rarest = try task.stratificationLabels(readable)
        for round in 0..<repeats {
            let seed = options.seed &+ UInt64(round) &* 7919
            let fold =
                try groups.map { Split.groupedFolds(labels: rarest, groups: $0, folds: options.folds, seed: seed) }
                ?? task.folds(readable, count: options.folds, seed: seed)
            for k in 0..<options.folds {
                let train = items.indices.filter { fold[$0] != k }, held = items.indices.filter { fold[$0] == k }
                guard !train.isEmpty, !held.isEmpty else { continue }
                let p = try headProbabilities(
                    features: prepared.features, labels: prepared.targets, train: train, held: held, classes: c,
                    seed: seed &+ UInt64(k), task: task)
                for (row, i) in held.enumerated() {
                    sums[i] = zip(sums[i], p[(row * c)..<((row + 1) * c)]).map { $0 + Double($1) }
                }
                for label in 0..<c {
                    let scores = held.indices.map { Double(p[$0 * c + label]) }, given = held.map { truth[$0][label] }
                    let right = zip(scores, given).filter { ($0 >= 0.5) == $1 }.count
                    foldScores[label].append(
                        (Double(right) / Double(held.count), Metrics.rocAUC(scores: scores, positives: given)))
                }
            }
            Feedback.log("repeat \(round + 1)/\(repeats): \(options.folds) folds of heads trained")
        }
        let probabilities = sums.map { row in row.map { $0 / Double(repeats) } }
        return dataset.classes.enumerated().map { label, name in
            let binary = probabilities.map { [1 - $0[label], $0[label]] }, given = truth.map { $0[label] ? 1 : 0 }
            return LabelOutcome(
                label: name,
                outcome: Outcome(
                    items: items, labels: given, probabilities: binary,
                    verdicts: ConfidentLearning.audit(
                        probabilities: binary, labels: given, classes: 2, ranking: options.ranking),
                    foldAccuracies: foldScores[label].map(\.accuracy), foldAUCs: foldScores[label].map(\.auc),
                    skipped: prepared.skipped))
        }
    }

    /// What `quadrat audit` prints of a multi-label audit: per label its out-of-fold scores and flagged photos.
    public static func labelSummary(_ outcomes: [LabelOutcome]) -> [String] {
        outcomes.map { entry in
            let accuracy = entry.outcome.foldAccuracies.meanAndDeviation, auc = entry.outcome.foldAUCs.meanAndDeviation
            let given = entry.outcome.labels.filter { $0 == 1 }.count
            let flagged = entry.outcome.verdicts.filter(\.flagged)
            let missing = flagged.filter { $0.given == 0 }.count
            return String(
                format: "%@ (%d of %d photos): out-of-fold accuracy %.4f ± %.4f, ROC AUC %.4f ± %.4f; %d flagged "
                    + "(%d labelled with it and look without, %d without it that look with it)", entry.label, given,
                entry.outcome.items.count, accuracy.mean, accuracy.sd, auc.mean, auc.sd, flagged.count,
                flagged.count - missing, missing)
        }
    }

    /// `audit.csv` (one row per photo and label, the most suspicious first within each label) and `audit.html` (per
    /// label its confident joint and its `top` most suspicious photos) in `folder`.
    public static func writeLabelReport(
        _ outcomes: [LabelOutcome], summary: [String], top: Int, title: String, to folder: URL
    ) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var text =
            CSVTable.row(["label", "rank", "name", "file", "given", "suspected", "flagged", "self_confidence", "p"])
            + "\n"
        var sections: [String] = []
        for entry in outcomes {
            let states = ["without \(entry.label)", "with \(entry.label)"]
            for (rank, v) in entry.outcome.verdicts.enumerated() {
                let item = entry.outcome.items[v.index]
                text +=
                    CSVTable.row([
                        entry.label, String(rank + 1), item.name, item.url.path, v.given == 1 ? "present" : "absent",
                        v.suspected == 1 ? "present" : "absent", v.flagged ? "yes" : "no",
                        String(format: "%.4f", v.selfConfidence),
                        String(format: "%.4f", entry.outcome.probabilities[v.index][1]),
                    ]) + "\n"
            }
            let joint = ConfidentLearning.confidentJoint(
                probabilities: entry.outcome.probabilities, labels: entry.outcome.labels, classes: 2)
            let rows = entry.outcome.verdicts.prefix(top).map { v in
                AuditPage.Row(
                    item: entry.outcome.items[v.index], given: states[v.given], suspected: states[v.suspected],
                    verdict: v, probabilities: entry.outcome.probabilities[v.index])
            }
            sections.append(
                AuditPage.sections(
                    summary: summary.filter { $0.hasPrefix(entry.label + " (") }, classes: states, joint: joint,
                    rows: rows, cache: nil, label: entry.label))
        }
        try AtomicFile.write(text, to: folder.appendingPathComponent("audit.csv"))
        try AtomicFile.write(
            AuditPage.page(title: title, sections: sections), to: folder.appendingPathComponent("audit.html"))
    }
}
