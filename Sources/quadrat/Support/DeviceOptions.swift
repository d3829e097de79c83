import ArgumentParser
import Torch
import Workflow

extension DeviceChoice: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

/// `--device`, shared by every command that runs a network.
struct DeviceOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            """
            Where the network runs: auto (a GPU when this build of libtorch sees one, else the CPU), cpu, cuda \
            (under quadrat launch, rank r takes GPU r) or cuda:N (default: $QUADRAT_DEVICE, or auto).
            """,
            valueName: "auto|cpu|cuda[:N]"))
    var device: DeviceChoice?

    /// Makes the parsed command's `--device` this process's default device. `main` calls it once for whatever
    /// command it parsed, before the command runs, so no command can forget it; a command without the option
    /// stays on the CPU (or QUADRAT_DEVICE's device). INT8 (`--precision int8`, `export --int8`) runs on the CPU
    /// whatever the default.
    static func apply(from command: Any) throws {
        guard let options = GivenArguments.group(DeviceOptions.self, in: command) else { return }
        // `--precision int8` (predict, evaluate, serve) or export's `--int8`.
        let int8 = GivenArguments.values(of: command).contains {
            ($0.value as? Precision) == .int8 || ($0.name == "int8" && ($0.value as? Bool) == true)
        }
        if int8 {
            if let chosen = options.device, case .cuda = chosen {
                throw WorkflowError(
                    "INT8 (--precision int8, export --int8) runs on the CPU: leave out --device \(chosen)")
            }
            try DeviceChoice.cpu.apply()
            return
        }
        // Without the flag, QUADRAT_DEVICE (which libtorch's side reads itself), or auto.
        guard let choice = options.device ?? DeviceChoice.fromEnvironment else {
            _ = try Torch.checkedDefaultDevice()
            return
        }
        try choice.apply()
    }
}
