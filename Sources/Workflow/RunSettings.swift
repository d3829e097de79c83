import Foundation
import Learn
import Torch
import Vision

extension TrainingRun {
    /// The settings a run used and where it ran, as the report's table shows them (names as the flags spell them).
    func settings(_ used: TrainOptions, architecture: Architecture, started: Date) -> [(String, String)] {
        let recipe = used.recipe
        let formatter = ISO8601DateFormatter()
        return [
            ("data", used.data),
            ("--arch", architecture.rawValue),
            (
                "--size / --presize",
                "\(used.size.map(String.init) ?? "default") px / \(used.presize.map(String.init) ?? "default") px"
            ),
            ("--batch-size", String(used.batchSize)),
            ("--seed", String(used.seed)),
            ("--valid-fraction", String(format: "%.2f", used.validFraction)),
            ("head rate (--lr)", String(format: "%.2e%@", recipe.headRate, used.lr == .auto ? " (auto)" : "")),
            ("body rates", recipe.unfrozenRates.map { String(format: "%.1e", $0) }.joined(separator: ", ")),
            ("--weight-decay", String(used.weightDecay)),
            ("--augmentation", used.augmentation.rawValue),
            ("--tta", "\(recipe.ttaViews) view(s) besides the photo (TTA ×\(recipe.ttaViews + 1))"),
            ("--resize", used.resize.rawValue),
            (
                "--decide-for",
                used.targetRecall.map { "recall ≥ \($0) (--target-recall)" }
                    ?? used.decisionGoal.rawValue
            ),
            ("--precision", used.precision.rawValue),
            ("--monitor", used.monitored.rawValue),
            ("--task", used.task.rawValue),
            ("--class-weights", used.classWeights.rawValue),
            ("--sampler", used.sampler.rawValue),
            ("started", formatter.string(from: started)),
            ("machine", MachineProfile.machineKey),
            ("Quadrat", quadratVersion),
        ]
    }
}
