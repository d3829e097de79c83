import Foundation
import Torch
import Vision

/// Reports a progress bar per training epoch and the per-epoch table (epoch, losses, metrics, time)
/// through ``Feedback`` (the learner adds it when ``Learner/verbose``).
///
/// Epochs are numbered 1, 2, … over the whole run (the report, history.csv and `best_epoch` count the same way),
/// phase names are shown whole, and the header is printed again only when the columns change.
final class EpochTable: Callback {
    var order: Int { 100 }
    private var bar: ProgressTracker?
    /// The last header printed in this process (a run's phases use several learners and so several tables).
    private static let lastHeader = Locked<String?>(nil)
    static let phaseWidth = 17

    func beforeTrain(_ learner: Learner) throws {
        bar = Feedback.start(
            "epoch \(learner.recorder.epochs.count + 1)", total: learner.train.batchCount, unit: "batch")
    }

    func afterBatch(_ learner: Learner) throws { bar?.advance() }

    func afterEpoch(_ learner: Learner) throws {
        guard let row = learner.recorder.epochs.last else { return }
        let names = ["phase", "epoch", "train_loss", "valid_loss"] + row.metrics.map(\.name) + ["time"]
        func line(_ cells: [String]) -> String {
            zip(names, cells).map { name, cell in
                let width = name == "phase" ? Self.phaseWidth : name == "epoch" ? 6 : max(10, name.count)
                return cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0)
            }.joined(separator: " ")
        }
        let header = line(names)
        if Self.lastHeader.withLock({ last in
            defer { last = header }
            return last != header
        }) {
            Feedback.log(header)
        }
        let values =
            [
                row.phase, String(learner.recorder.epochs.count), String(format: "%.4f", row.trainLoss),
                row.validLoss.map { String(format: "%.4f", $0) } ?? "-",
            ]
            + row.metrics.map { String(format: "%.4f", $0.value) } + [Feedback.clock(row.seconds)]
        Feedback.log(line(values))
    }
}
