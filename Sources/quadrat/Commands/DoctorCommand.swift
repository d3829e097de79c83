import ArgumentParser
import Workflow

/// `quadrat doctor`: the machine, libtorch, BLAS, weights and caches, each ok, warn or fail.
struct DoctorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this machine: libtorch, BLAS speed, threads, CPU instruction sets, weights, caches.",
        discussion: "Exits 1 when a check fails; each warning or failure comes with the command that fixes it."
    )

    func run() throws {
        let checks = Doctor.checks()
        for check in checks { print(check.line) }
        if checks.contains(where: { $0.status == .fail }) { throw ExitCode.failure }
    }
}
