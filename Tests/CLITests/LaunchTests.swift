import Foundation
import TestSupport
import Testing
import Torch
import Workflow

/// The pids of `process`'s children (the ranks `launch` started).
func children(of process: Process) -> [Int32] {
    let pid = process.processIdentifier
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.flatMap { task in
        ((try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? "")
            .split(separator: " ").compactMap { Int32($0) }
    }
}

@Suite(
    "quadrat launch: data-parallel training", .serialized,
    .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct LaunchTests {
    static let options = [
        "--size", "32", "--batch-size", "8", "--cycles", "4", "--tta", "0", "--no-lr-find", "--lr", "3e-3",
    ]

    /// Two ranks train; Ctrl-C (to both, as a terminal sends it) stops them after the same step and rank 0 saves
    /// a checkpoint; it resumes only with two ranks, and the resumed run ends with the model of an uninterrupted
    /// two-rank run.
    @Test func twoRanksTrainStopTogetherAndResume() throws {
        let data = try makeKaggleDataSet(trainCount: 32, testCount: 1, size: 40)
        let straightRun = data.appendingPathComponent("straight")
        let straight = try quadrat(
            ["launch", "-n", "2", "--", "train", data.path, "--out", straightRun.path] + Self.options)
        #expect(straight.status == 0, "\(straight.errors)")
        #expect(straight.errors.contains("launch: 2 processes × 1 thread(s)"), "\(straight.errors)")
        #expect(straight.output.contains("data-parallel: rank 0 of 2"), "\(straight.output)")
        // Only rank 0 speaks: one table, one model line.
        #expect(straight.output.components(separatedBy: "model: ").count == 2, "\(straight.output)")
        for file in ["model.safetensors", "history.csv", "valid_predictions.csv", "report.html", "config.json"] {
            #expect(FileManager.default.fileExists(atPath: straightRun.appendingPathComponent(file).path), "\(file)")
        }
        let report = try String(contentsOf: straightRun.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("data-parallel: 2 processes"))

        let run = data.appendingPathComponent("run")
        let (process, out, err) = try launchQuadrat(
            ["launch", "-n", "2", "--", "train", data.path, "--out", run.path] + Self.options)
        let seen = readOutput(out, until: "\nunfrozen ")
        let ranks = children(of: process)
        #expect(ranks.count == 2)
        for rank in ranks { kill(rank, SIGINT) }
        let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(seen.contains("\nunfrozen "))
        #expect(process.terminationStatus != 0)
        let checkpoint = run.appendingPathComponent("interrupted.safetensors")
        #expect(errors.contains("checkpoint saved to \(checkpoint.path)"), "\(errors)")
        #expect(!errors.contains("failed on rank"), "a rank waited for the other: \(errors)")

        let alone = try quadrat(["train", data.path, "--out", run.path, "--resume", checkpoint.path] + Self.options)
        #expect(alone.status == 1)
        #expect(
            alone.errors.contains("was saved by a run of 2 process(es); resume it with 2, not 1"), "\(alone.errors)")

        let resumed = try quadrat(
            ["launch", "-n", "2", "--", "train", data.path, "--out", run.path, "--resume", checkpoint.path]
                + Self.options)
        #expect(resumed.status == 0, "\(resumed.errors)")
        let want = try Safetensors.read(straightRun.appendingPathComponent("model.safetensors")).tensors
        let got = try Safetensors.read(run.appendingPathComponent("model.safetensors")).tensors
        for (name, tensor) in want where tensor.dtype == .float32 {
            let difference = try (got[name].map { try ($0 - tensor).abs().max().item() } ?? .infinity)
            #expect(difference <= 1e-5, "\(name) differs by \(difference) after resuming")
        }
    }

    /// A rank that is killed: the other stops with an error that says so, within the timeout, not a hang.
    @Test func aKilledRankIsAClearErrorOnTheOther() throws {
        let data = try makeKaggleDataSet(trainCount: 32, testCount: 1, size: 40)
        let port = try ProcessGroup.freePort()
        let ranks = try (0..<2).map { rank in
            try launchQuadrat(
                [
                    "train", data.path, "--out", data.appendingPathComponent("run").path, "--world-size", "2", "--rank",
                    String(rank), "--master", "127.0.0.1:\(port)", "--timeout", "20",
                ] + Self.options)
        }
        let seen = readOutput(ranks[0].out, until: "data-parallel: rank 0 of 2")
        #expect(seen.contains("data-parallel: rank 0 of 2"))
        kill(ranks[1].process.processIdentifier, SIGKILL)
        let start = Date()
        let errors = String(decoding: ranks[0].err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        ranks[0].process.waitUntilExit()
        ranks[1].process.waitUntilExit()
        #expect(ranks[0].process.terminationStatus == 1)
        #expect(Date().timeIntervalSince(start) < 30)
        #expect(errors.contains("failed on rank 0 of 2: another rank stopped"), "\(errors)")
    }

    @Test func launchAndDistributedFlagsAreChecked() throws {
        let noCommand = try quadrat(["launch", "-n", "2"])
        #expect(noCommand.status == 64 && noCommand.errors.contains("give the command after --"), "\(noCommand.errors)")
        let rank = try quadrat([
            "train", "/tmp", "--out", "/tmp/x", "--world-size", "2", "--rank", "2", "--master", "h:1",
        ])
        #expect(rank.status == 64 && rank.errors.contains("--rank (or RANK) must be 0 to 1"), "\(rank.errors)")
        let master = try quadrat(["train", "/tmp", "--out", "/tmp/x", "--world-size", "2", "--rank", "0"])
        #expect(
            master.status == 64 && master.errors.contains("--master (or MASTER_ADDR and MASTER_PORT)"),
            "\(master.errors)")
    }
}
