import Foundation
import Vision

/// Reports a progress bar per training epoch and the per-epoch table (epoch, losses, metrics, time)
/// through ``Feedback`` (the learner adds it when ``Learner/verbose``).
final class EpochTable: Callback {
    var order: Int { 100 }
    private var bar: ProgressTracker?
    private var printedHeader = false

    func beforeTrain(_ learner: Learner) throws {
        bar = Feedback.start("epoch \(learner.epoch + 1)", total: learner.train.batchCount, unit: "batch")
    }

    func afterBatch(_ learner: Learner) throws { bar?.advance() }

    func afterEpoch(_ learner: Learner) throws {
        guard let row = learner.recorder.epochs.last else { return }
        let names = ["phase", "epoch", "train_loss", "valid_loss"] + row.metrics.map(\.name) + ["time"]
        if !printedHeader {
            Feedback.log(
                names.map { $0.padding(toLength: max(10, $0.count), withPad: " ", startingAt: 0) }.joined(
                    separator: " "))
            printedHeader = true
        }
        let values =
            [
                row.phase, String(row.epoch + 1), String(format: "%.4f", row.trainLoss),
                row.validLoss.map { String(format: "%.4f", $0) } ?? "-",
            ]
            + row.metrics.map { String(format: "%.4f", $0.value) } + [Feedback.clock(row.seconds)]
        Feedback.log(
            zip(names, values).map { $1.padding(toLength: max(10, $0.count), withPad: " ", startingAt: 0) }.joined(
                separator: " "))
    }
}
