import Foundation
import Vision

/// Prints a progress bar per training epoch and the per-epoch table (epoch, losses, metrics, time).
final class ProgressReporter: Callback {
    var order: Int { 100 }
    private var bar: ProgressBar?
    private var printedHeader = false

    func beforeTrain(_ learner: Learner) throws {
        bar = ProgressBar("epoch \(learner.epoch + 1)", total: learner.train.batchCount, unit: "batch")
    }

    func afterBatch(_ learner: Learner) throws { bar?.advance() }

    func afterEpoch(_ learner: Learner) throws {
        guard let row = learner.recorder.epochs.last else { return }
        let names = ["phase", "epoch", "train_loss", "valid_loss"] + row.metrics.map(\.name) + ["time"]
        if !printedHeader {
            emit(names.map { $0.padding(toLength: max(10, $0.count), withPad: " ", startingAt: 0) }.joined(separator: " "))
            printedHeader = true
        }
        let values = [row.phase, String(row.epoch + 1), String(format: "%.4f", row.trainLoss), row.validLoss.map { String(format: "%.4f", $0) } ?? "-"]
            + row.metrics.map { String(format: "%.4f", $0.value) } + [ProgressBar.clock(row.seconds)]
        emit(zip(names, values).map { $1.padding(toLength: max(10, $0.count), withPad: " ", startingAt: 0) }.joined(separator: " "))
    }
}

/// Writes a line to standard output at once (unbuffered, so logs show progress as it happens).
public func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
