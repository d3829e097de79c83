import ArgumentParser
import Foundation
import Torch
import Vision
import Workflow

/// `quadrat doctor`: the machine, libtorch, BLAS, weights and caches, each ok, warn or fail.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine: libtorch, BLAS speed, threads, CPU instruction sets, weights, caches.",
        discussion: """
            Exits 1 when a check fails; each warning or failure comes with the command that fixes it.

            train measures this machine once per model and size and plans every later run from the figures. \
            --measure forgets them all and measures again (run it on a quiet machine, after a hardware or \
            libtorch change, or when the plans' times look wrong).
            """
    )

    @Flag(help: "Forget this machine's stored measurements and measure again now (about 10 to 60 s).")
    var measure = false
    @Option(help: "With --measure: the network to measure (default efficientnet-lite0).")
    var arch: Architecture = .efficientNetLite0
    @Option(help: "With --measure: the input size (default: the network's).")
    var size: Int?
    @Option(name: .customLong("batch-size"), help: "With --measure: the training batch (default 32, as train's).")
    var batchSize = 32

    func validate() throws {
        if let size, !(32...1024).contains(size) { throw ValidationError("--size must be 32 to 1024, not \(size)") }
        if !(1...1024).contains(batchSize) { throw ValidationError("--batch-size must be 1 to 1024, not \(batchSize)") }
    }

    func run() throws {
        if measure {
            Torch.useAllCores()
            let size = self.size ?? arch.defaultSize
            print(
                "measuring \(arch.rawValue) at \(size) px, batch \(batchSize): training and inference in fp32 and bf16…"
            )
            let (profile, forgotten, note) = try MachineProfile.measureAgain(
                architecture: arch, size: size, batchSize: batchSize)
            print(
                "forgot \(forgotten) stored measurement(s) of this machine; other models and sizes measure on their next run"
            )
            print("measured: " + profile.summary(.auto))
            print(note.map { "not stored: " + $0 } ?? "stored in \(MachineProfile.file.path)")
        }
        let checks = Doctor.checks()
        for check in checks { print(check.line) }
        if checks.contains(where: { $0.status == .fail }) { throw ExitCode.failure }
    }
}
