import ArgumentParser
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
            (under quadrat launch, rank r takes GPU r) or cuda:N.
            """,
            valueName: "auto|cpu|cuda[:N]"))
    var device: DeviceChoice = .auto

    /// Makes the parsed command's `--device` this process's default device. `main` calls it once for whatever
    /// command it parsed, before the command runs, so no command can forget it; a command without the option
    /// stays on the CPU.
    static func apply(from command: Any) throws {
        for child in Mirror(reflecting: command).children {
            guard let group = child.value as? GivenArgumentGroup else { continue }
            if let options = group.members as? DeviceOptions {
                try options.device.apply()
                return
            }
            try apply(from: group.members)
        }
    }
}
