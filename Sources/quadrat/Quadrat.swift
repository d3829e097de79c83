import ArgumentParser
import Torch
import Workflow

/// The `quadrat` command: transfer learning for image classification, one subcommand per workflow step.
@main
struct Quadrat: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quadrat",
        abstract:
            "Train image classifiers by transfer learning: photos and a CSV of labels in; a model, a held-out score, predictions and a report out.",
        version: "0.1.0 (libtorch \(Torch.version))",
        subcommands: [
            CheckCommand.self, ExploreCommand.self, PresizeCommand.self, LRFindCommand.self, TrainCommand.self,
            PredictCommand.self, EvaluateCommand.self, InterpretCommand.self, ClassifyCommand.self, BenchCommand.self,
            DemoCommand.self, ServeCommand.self, ExportCommand.self, DoctorCommand.self,
        ]
    )

    static func main() {
        Torch.keepFreedMemory()
        Console.install()
        Interrupts.install()
        main(nil)
    }
}
