import Foundation

/// What happened during training: per-step losses and rates, per-epoch results.
public final class Recorder: @unchecked Sendable {
    /// One training batch: its loss, the rates and momentum it ran with.
    public struct Step: Sendable {
        public var phase: String
        public var loss: Double
        public var rates: [Double]
        public var momentum: Double
    }

    /// One epoch: losses, metrics and wall time.
    public struct Epoch: Sendable {
        public var phase: String
        public var epoch: Int
        public var trainLoss: Double
        public var validLoss: Double?
        public var metrics: [(name: String, value: Double)]
        public var seconds: Double
    }

    public private(set) var steps: [Step] = []
    public private(set) var epochs: [Epoch] = []
    public var metricDirections: [String: Bool] = ["valid_loss": false, "train_loss": false]
    /// A label for the current fit ("head", "unfrozen", …), stored with each row.
    public var phase = "fit"

    public init() {}

    func record(step: Step) { steps.append(step) }
    func record(epoch: Epoch) { epochs.append(epoch) }

    /// The last value of `name` ("valid_loss", "train_loss" or a metric) and whether higher is better.
    public func latest(_ name: String) -> (Double, Bool)? {
        guard let last = epochs.last else { return nil }
        let higher = metricDirections[name] ?? true
        switch name {
        case "valid_loss": return last.validLoss.map { ($0, false) }
        case "train_loss": return (last.trainLoss, false)
        default: return last.metrics.first { $0.name == name }.map { ($0.value, higher) }
        }
    }

    /// history.csv: one row per epoch.
    public func historyCSV() -> String {
        let metricNames = epochs.first?.metrics.map(\.name) ?? []
        var lines = [
            (["phase", "epoch", "train_loss", "valid_loss"] + metricNames + ["seconds"]).joined(separator: ",")
        ]
        // Epochs are numbered 1, 2, … over the whole run, as the terminal table, the report and `best_epoch` do.
        for (i, e) in epochs.enumerated() {
            let values =
                [e.phase, String(i + 1), fmt(e.trainLoss), e.validLoss.map(fmt) ?? ""]
                + e.metrics.map { fmt($0.value) } + [String(format: "%.1f", e.seconds)]
            lines.append(values.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func fmt(_ v: Double) -> String { String(format: "%.6f", v) }

    /// Restores state from a checkpoint.
    func restore(steps: [Step], epochs: [Epoch]) {
        self.steps = steps
        self.epochs = epochs
    }
}
