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
        (full.epochs, full.lr, full.budget, full.recipe.cycleLength) = (3, .value(1e-3), TimeSpan(seconds: 60), 2)
        (full.arch, full.augmentation, full.monitor, full.burstGap) = (
            .resNet18, .dihedral, .rocAUC, TimeSpan(seconds: 5)
        )
        let written = try? JSONEncoder().encode(full)
        #expect((try? TrainOptions.decodingConfig(written ?? Data(), yaml: false, over: base)) == full)
    }

    /// A null for an option that must have a value names the option; an architecture in capitals reads as before.
    @Test func nullValuesAndCapitalisedNames() throws {
        let base = TrainOptions(data: "d", out: "o")
        let null = message { _ = try TrainOptions.decodingConfig(Data("batchSize: ~\n".utf8), yaml: true, over: base) }
        #expect(null.contains("option 'batchSize' must be a Int, not null"), "\(null)")
        let capitals = try TrainOptions.decodingConfig(Data("arch: ResNet18\n".utf8), yaml: true, over: base)
        #expect(capitals.arch == .resNet18)
        let stored = try TrainOptions.reading(
            stored: Data(#"{"data": "d", "out": "o", "arch": "EfficientNet-Lite0"}"#.utf8))
        #expect(stored.arch == .efficientNetLite0)
    }

    /// The grouping options travel through a config and are checked: an empty column and a negative gap are refused
    /// naming their flags.
    @Test func groupingOptionsReadFromAConfigAndAreChecked() throws {
        let base = TrainOptions(data: "d", out: "o")
        let read = try TrainOptions.decodingConfig(
            Data("groupBy: site\nburstGap: 120\nsplitDuplicates: true\n".utf8), yaml: true, over: base)
        #expect(read.groupBy == "site" && read.burstGap.seconds == 120 && read.splitDuplicates)
        var empty = base
        empty.groupBy = " "
        #expect(message { try empty.validate() }.contains("option 'groupBy' needs a column"))
        var negative = base
        negative.burstGap = TimeSpan(seconds: -1)
        #expect(message { try negative.validate() }.contains("option 'burstGap' must be"))
    }

    /// Config bombs are refused on their text, before a parser sees them: deep nesting (which overflowed the
    /// stack), aliases (ten levels of nine expanded past 19 GB) and sheer size. Real configs still read.
    @Test func configBombsAreRefusedBeforeParsing() throws {
        let base = TrainOptions(data: "d", out: "o")
        func refusal(_ text: String, yaml: Bool = true) -> String {
            message { _ = try TrainOptions.decodingConfig(Data(text.utf8), yaml: yaml, over: base) }
        }
        let flow = refusal("recipe: " + String(repeating: "[", count: 100_000))
        #expect(flow.contains("line 1: nests more than 32 levels deep"), "\(flow)")
        #expect(refusal(String(repeating: "[", count: 100_000), yaml: false).contains("nests more than 32"))
        let block = (0..<60).map { String(repeating: " ", count: 2 * $0) + "k\($0):" }.joined(separator: "\n")
        #expect(refusal(block).contains("line 33: nests more than 32"), "\(refusal(block))")
        #expect(refusal(String(repeating: "- ", count: 40) + "x").contains("nests more than 32"))
        var bomb = "a: &a [\"lol\", \"lol\"]\n"
        for level in 1...9 {
            bomb +=
                "\(level == 9 ? "seed" : "a\(level)"): &a\(level) ["
                + Array(repeating: "*a", count: 9).joined(separator: ", ") + "]\n"
        }
        #expect(
            refusal(bomb).contains("line 1: YAML anchors and aliases (& and *) are not accepted"), "\(refusal(bomb))")
        #expect(refusal("data: x\n" + String(repeating: "# padding\n", count: 30_000)).contains("at most 262144"))
        // A key that is a list: Yams' own constructor force-unwrapped nil on it (found by FuzzConfig).
        #expect(refusal("?              -     9").contains("a key must be a plain name"), "\(refusal("? - 9"))")
        #expect(refusal("[1, 2]: 3\n").contains("a key must be a plain name"))
        // Sexagesimal text overflowed Yams' integer constructor (a trap); here it is a string, refused by type.
        #expect(refusal("seed: 7:777777777777777777777\n").contains("option 'seed' must be a"))
        #expect(
            try TrainOptions.decodingConfig(Data("epochs: 12\nvalidFraction: 2.5e-1\n".utf8), yaml: true, over: base)
                .epochs == 12)
        // An apostrophe inside a plain value is not a quote: what follows is still checked, and "cats & dogs" is text.
        #expect(refusal("arch: it's\na: &a [1, 2]\n").contains("line 2: YAML anchors and aliases"), "\(refusal("x"))")
        #expect(refusal("arch: it's\nb: " + String(repeating: "[", count: 100)).contains("nests more than 32"))
        let apostrophes = try TrainOptions.decodingConfig(
            Data("out: bob's\nclassNames: ['cats & dogs', cats & dogs]\n".utf8), yaml: true, over: base)
        #expect(apostrophes.classNames == ["cats & dogs", "cats & dogs"])
        // Stars and ampersands inside values, quotes and comments are fine.
        let fine = try TrainOptions.decodingConfig(
            Data(
                "# a & b *c\naugmentation: 'dihedral'  # *not an alias*\nclassNames: [\"R&D\", x*y]\nrecipe:\n  ttaViews: 2\n"
                    .utf8),
            yaml: true, over: base)
        #expect(fine.classNames == ["R&D", "x*y"] && fine.recipe.ttaViews == 2)
    }

    /// SGDR cycles that multiply past any run (100 cycles at ×10) are refused, not left to overflow the plan.
    @Test func cyclesThatMultiplyPastAnyRunAreRefused() {
        var options = TrainOptions(data: "d", out: "o")
        (options.recipe.unfrozenCycles, options.recipe.cycleMult, options.recipe.cycleLength) = (100, 10, 1)
        #expect(message { try options.validate() }.contains("make 1.11e+99 epochs; at most 1000"))
        (options.recipe.unfrozenCycles, options.recipe.cycleMult, options.recipe.cycleLength) = (3, 2, 2)
        #expect(message { try options.validate() } == "(no error)")
    }

    /// Class names: one per class, distinct and not empty, refused before the run folder is made; the new options
    /// read back from a config file.
    @Test func classNamesAreCheckedAgainstTheClasses() throws {
        let data = try makeKaggleDataSet(trainCount: 6, testCount: 1)
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        options.classNames = ["a", "b", "c"]
        let many = message { _ = try TrainingRun(options: options).run() }
        #expect(many.contains("option 'classNames' gives 3 name(s) for 2 classes (0, 1)"), "\(many)")
        #expect(!FileManager.default.fileExists(atPath: options.out))
        options.classNames = ["a", "a"]
        #expect(message { try options.validate() }.contains("option 'classNames' must be distinct, non-empty names"))
        options.classNames = ["healthy", "invasive"]
        (options.resize, options.decideFor) = (.pad, .balancedAccuracy)
        let config = try JSONEncoder().encode(options)
        #expect(
            try TrainOptions.decodingConfig(config, yaml: false, over: TrainOptions(data: "", out: "")).resize == .pad)
        let yaml = try TrainOptions.decodingConfig(
            Data("resize: squish\ndecideFor: balanced-accuracy\nclassNames: ['no', 'yes']\n".utf8), yaml: true,
            over: TrainOptions(data: "d", out: "o"))
        #expect(yaml.resize == .squish && yaml.decideFor == .balancedAccuracy && yaml.classNames == ["no", "yes"])
        // Unquoted, YAML reads them as booleans: the message names the field and says to quote them.
        let unquoted = message {
            _ = try TrainOptions.decodingConfig(
                Data("classNames: [no, yes]\n".utf8), yaml: true, over: TrainOptions(data: "d", out: "o"))
        }
        #expect(
            unquoted.contains("option 'classNames[0]' must be a String") && unquoted.contains("quote"), "\(unquoted)")
        let stretch = message {
            _ = try TrainOptions.decodingConfig(
                Data("resize: stretch\n".utf8), yaml: true, over: TrainOptions(data: "d", out: "o"))
        }
        #expect(stretch.contains("option 'resize' must be one of crop, squish, pad, not 'stretch'"), "\(stretch)")
        let monitor = message {
            _ = try TrainOptions.decodingConfig(
                Data("monitor: speed\n".utf8), yaml: true, over: TrainOptions(data: "d", out: "o"))
        }
        #expect(
            monitor.contains(
                "option 'monitor' must be one of auto, valid_loss, accuracy, roc_auc, map, macro_f1, not 'speed'"),
            "\(monitor)"
        )
        let budget = message {
            _ = try TrainOptions.decodingConfig(
                Data("budget: soon\n".utf8), yaml: true, over: TrainOptions(data: "d", out: "o"))
        }
        #expect(budget.contains("option 'budget'") && budget.contains("duration such as 5m"), "\(budget)")
        let minutes = try TrainOptions.decodingConfig(
            Data("budget: 5m\nlr: auto\n".utf8), yaml: true, over: TrainOptions(data: "d", out: "o"))
        #expect(minutes.budget?.seconds == 300 && minutes.lr == .auto)
    }

    @Test(arguments: [
        ("batch", "'batchSize'"), ("size", "'size'"), ("valid", "'validFraction'"),
        ("cycles", "'recipe.unfrozenCycles'"),
        ("tta", "'recipe.ttaViews'"), ("epochs", "'epochs'"), ("lr", "'lr'"), ("budget", "'budget'"),
        ("recall", "'targetRecall'"),
    ])
    func outOfRangeNumbersNameTheirOption(field: String, option: String) {
        var o = TrainOptions(data: "d", out: "o")
        switch field {
        case "batch": o.batchSize = 0
        case "size": o.size = 100_000
        case "valid": o.validFraction = -0.5
        case "cycles": o.recipe.unfrozenCycles = -1
        case "tta": o.recipe.ttaViews = -1
        case "epochs": o.epochs = 0
        case "lr": o.lr = .value(2)
        case "budget": o.budget = TimeSpan(seconds: 1)
        default: o.targetRecall = 1.5
        }
        let text = message { try o.validate() }
        #expect(text.contains("option \(option) must"), "\(text)")
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
