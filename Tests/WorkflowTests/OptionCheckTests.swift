import Foundation
import TestSupport
import Testing
import Vision
import Workflow

@Suite("Options are checked before any work, naming the flag or key")
struct OptionCheckTests {
    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "(no error)"
        } catch {
            return "\(error)"
        }
    }

    @Test func unknownConfigKeysAreRefusedWithASuggestion() {
        let base = TrainOptions(data: "d", out: "o")
        let typo = message {
            _ = try TrainOptions.decodingConfig(Data(#"{"recipe": {"headrate": 0.01}}"#.utf8), yaml: false, over: base)
        }
        #expect(
            typo.contains("unknown option 'recipe.headrate'") && typo.contains("did you mean 'recipe.headRate'"),
            "\(typo)")
        let top = message { _ = try TrainOptions.decodingConfig(Data("epoch: 5\n".utf8), yaml: true, over: base) }
        #expect(top.contains("unknown option 'epoch'") && top.contains("'epochs'"), "\(top)")
        let far = message {
            _ = try TrainOptions.decodingConfig(Data(#"{"zzzzzzzzzz": 1}"#.utf8), yaml: false, over: base)
        }
        #expect(far.contains("unknown option 'zzzzzzzzzz'") && !far.contains("did you mean"), "\(far)")
        // Every option written to config.json reads back.
        var full = base
        (full.epochs, full.lr, full.budget, full.recipe.cycleLength) = (3, 1e-3, 60, 2)
        let written = try? JSONEncoder().encode(full)
        #expect((try? TrainOptions.decodingConfig(written ?? Data(), yaml: false, over: base)) == full)
    }

    @Test(arguments: [
        ("batch", "--batch-size"), ("size", "--size"), ("valid", "--valid-fraction"), ("cycles", "--cycles"),
        ("tta", "--tta"), ("epochs", "--epochs"), ("lr", "--lr"), ("budget", "--budget"), ("monitor", "--monitor"),
    ])
    func outOfRangeNumbersNameTheirFlag(field: String, flag: String) {
        var o = TrainOptions(data: "d", out: "o")
        switch field {
        case "batch": o.batchSize = 0
        case "size": o.size = 100_000
        case "valid": o.validFraction = -0.5
        case "cycles": o.recipe.unfrozenCycles = -1
        case "tta": o.recipe.ttaViews = -1
        case "epochs": o.epochs = 0
        case "lr": o.lr = 2
        case "budget": o.budget = 1
        default: o.monitor = "speed"
        }
        let text = message { try o.validate() }
        #expect(text.contains(flag), "\(text)")
    }

    @Test func csvRowsQuoteWhatNeedsQuotingAndReadBack() throws {
        let fields = ["plain", "with, comma", "with \"quotes\"", "line\nbreak", ""]
        let row = CSVTable.row(fields)
        #expect(row == #"plain,"with, comma","with ""quotes""","line"# + "\nbreak\",")
        let file = try Fixtures.temporaryFolder().appendingPathComponent("t.csv")
        try ("a,b\n" + CSVTable.row(["x,1", "y\"2"]) + "\n").write(to: file, atomically: true, encoding: .utf8)
        let table = try CSVTable(url: file)
        #expect(table.rows.first?.fields == ["x,1", "y\"2"])
    }
}

@Suite("check is the gate: what train refuses, check reports")
struct CheckGateTests {
    @Test func oneClassOrOneImageIsReportedByCheckAndRefusedByTrain() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1, size: 32)
        // Every label 0: one class. Then one image of class 1.
        try "name,invasive\n1,0\n2,0\n3,0\n4,0\n".write(
            to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let one = try DataSource.labelled(data)
        #expect(DataCheck.trainingProblems(in: one).map(\.kind) == [.tooFewImages])
        #expect(DataCheck.problems(in: one).contains { $0.message.contains("at least 2 classes") })
        try "name,invasive\n1,0\n2,0\n3,1\n".write(
            to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        let single = try DataSource.labelled(data)
        #expect(DataCheck.trainingProblems(in: single).first?.message.contains("class '1' has 1 image") == true)
        let out = data.appendingPathComponent("run")
        do {
            _ = try TrainingRun(options: TrainOptions(data: data.path, out: out.path)).run()
            Issue.record("training on one image of a class was accepted")
        } catch {
            #expect("\(error)".contains("class '1' has 1 image"), "\(error)")
        }
        // Refused before the run folder exists.
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }
}
