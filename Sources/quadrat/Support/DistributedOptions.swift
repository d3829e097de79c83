import ArgumentParser
import Foundation
import Torch

/// `--world-size`, `--rank`, `--master` and `--timeout`: this process's place in a data-parallel group. Each
/// flag falls back on the environment variables `torchrun` sets (`WORLD_SIZE`, `RANK`, `MASTER_ADDR`,
/// `MASTER_PORT`), which `quadrat launch` sets too.
struct DistributedOptions: ParsableArguments {
    @Option(name: .customLong("world-size"), help: "Processes training together (default: $WORLD_SIZE, or 1).")
    var worldSize: Int?
    @Option(
        help:
            "This process's rank, 0 to world-size − 1; rank 0 writes the outputs (the run folder, or the predictions) (default: $RANK)."
    )
    var rank: Int?
    @Option(
        help: ArgumentHelp(
            "Where rank 0 listens for the others (default: $MASTER_ADDR:$MASTER_PORT).", valueName: "host:port"))
    var master: String?
    @Option(help: "Seconds a rank waits for the others before giving up with an error.")
    var timeout: Double = 300

    private static func environment(_ name: String) -> String? { ProcessInfo.processInfo.environment[name] }

    /// The resolved settings, or nil for a single process.
    func settings() throws -> (host: String, port: Int, rank: Int, worldSize: Int)? {
        let world = try worldSize ?? Self.environment("WORLD_SIZE").map { try Self.number($0, "WORLD_SIZE") } ?? 1
        guard world > 1 else { return nil }
        let rank = try rank ?? Self.environment("RANK").map { try Self.number($0, "RANK") } ?? -1
        guard (0..<world).contains(rank) else {
            throw ValidationError("--rank (or RANK) must be 0 to \(world - 1) with a world size of \(world)")
        }
        let address =
            master
            ?? Self.environment("MASTER_ADDR").flatMap { host in Self.environment("MASTER_PORT").map { "\(host):\($0)" }
            }
        guard let address, let colon = address.lastIndex(of: ":"),
            let port = Int(address[address.index(after: colon)...]), (1...65535).contains(port)
        else {
            throw ValidationError(
                "--master (or MASTER_ADDR and MASTER_PORT) must name rank 0's host and a port, such as 10.0.0.5:29500"
                    + (master.map { ", not '\($0)'" } ?? ""))
        }
        guard timeout > 0 else { throw ValidationError("--timeout must be a positive number of seconds") }
        return (String(address[..<colon]), port, rank, world)
    }

    /// Joins the group (nil for a single process); waits at most the timeout for the other ranks.
    func join() throws -> ProcessGroup? {
        guard let s = try settings() else { return nil }
        return try ProcessGroup(host: s.host, port: s.port, rank: s.rank, worldSize: s.worldSize, timeout: timeout)
    }

    private static func number(_ text: String, _ name: String) throws -> Int {
        guard let n = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ValidationError("\(name) must be a whole number, not '\(text)'")
        }
        return n
    }
}
