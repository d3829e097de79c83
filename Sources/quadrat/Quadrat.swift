import ArgumentParser
import Foundation
import Torch
import Workflow

/// The `quadrat` command: transfer learning for image classification, one subcommand per workflow step.
@main
struct Quadrat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quadrat",
        abstract:
            "Train image classifiers by transfer learning: photos and a CSV of labels in; a model, a held-out score, predictions and a report out.",
        discussion: """
            First time on a machine: quadrat doctor. Then: check, explore, train, predict (each has --help).

            Exit status: 0 done; 1 the job failed or check found problems (the message names the file, line or \
            flag); 64 a wrong flag or argument (usage follows); 130 or 143 stopped by SIGINT or SIGTERM.

            Environment: QUADRAT_HOME (weights, caches, machine profiles; default ~/.cache/quadrat), \
            QUADRAT_THREADS (libtorch threads; default every core), QUADRAT_QUIET (any value: no progress bars), \
            QUADRAT_TOKEN (serve's bearer token), QUADRAT_DEVICE (the device of commands without --device, and of \
            the test suite: cpu, cuda or cuda:N), LOCAL_RANK and LOCAL_WORLD_SIZE (which GPU --device cuda takes; \
            quadrat launch sets them), OPENBLAS_CORETYPE (OpenBLAS's kernels; quadrat restarts itself with \
            SkylakeX or Haswell where OpenBLAS does not know the CPU and falls back to its generic ones).
            """,
        version: "0.1.0 (libtorch \(Torch.version))",
        subcommands: [
            CheckCommand.self, ExploreCommand.self, PresizeCommand.self, LRFindCommand.self, TrainCommand.self,
            PredictCommand.self, EvaluateCommand.self, InterpretCommand.self, ClassifyCommand.self, BenchCommand.self,
            ExplainCommand.self, AuditCommand.self, DemoCommand.self, ServeCommand.self, ReviewCommand.self,
            ExportCommand.self, QuantizeCommand.self,
            DoctorCommand.self, LaunchCommand.self,
        ]
    )

    /// Sync commands run on the main thread as before; `serve` awaits its server.
    static func main() async {
        BLASKernels.restartWithSuitedKernels()
        Torch.keepFreedMemory()
        Console.install()
        Interrupts.install()
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let message = unknownSubcommand(in: arguments) {
            FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
            Foundation.exit(ExitCode.validationFailure.rawValue)
        }
        do {
            var command = try parseAsRoot(arguments)
            ImageLimitOptions.apply(from: command)
            try DeviceOptions.apply(from: command)
            if var asynchronous = command as? AsyncParsableCommand {
                try await asynchronous.run()
            } else {
                try command.run()
            }
        } catch let stopped as InterruptedRun {
            // Stopped by a signal after saving what it could: 128 + the signal, as the shell reports it.
            FileHandle.standardError.write(Data("\(stopped)\n".utf8))
            Foundation.exit(128 + stopped.signal)
        } catch {
            exit(withError: error)
        }
    }

    /// "unknown command 'trian'; did you mean 'train'?" when the first argument is neither a flag nor a command.
    static func unknownSubcommand(in arguments: [String]) -> String? {
        guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
        let names = (configuration.subcommands.compactMap { $0.configuration.commandName }) + ["help"]
        guard !names.contains(first) else { return nil }
        let closest = names.min { editDistance($0, first) < editDistance($1, first) }
        let hint = closest.map { editDistance($0, first) <= 2 ? "; did you mean '\($0)'?" : "" } ?? ""
        return "unknown command '\(first)'\(hint) (quadrat --help lists them)"
    }
}
