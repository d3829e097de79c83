import ArgumentParser
import Foundation
import Learn
import Testing
import Workflow

@testable import quadrat

/// `train`'s flags are the table of options: each property names the field it sets, so a flag cannot be declared
/// and then forgotten by the merge.
@Suite("train's flags, one per option")
struct FlagTableTests {
    /// Every flag given at once: each reaches the option of its name (recipe fields included).
    @Test func everyFlagSetsTheOptionItIsNamedAfter() throws {
        let flags = try TrainFlags.parse([
            "--arch", "resnet18", "--size", "96", "--presize", "120", "--batch-size", "16", "--seed", "7",
            "--valid-fraction", "0.25", "--augmentation", "top-down", "--max-rotation", "5", "--max-zoom", "1.2",
            "--max-lighting", "0.1", "--weights", "w.safetensors", "--name-column", "file", "--label-column", "kind",
            "--cycles", "2", "--cycle-len", "3", "--cycle-mult", "2", "--tta", "6", "--epochs", "9",
            "--head-epochs", "1", "--weight-decay", "0.05", "--lr", "2e-3", "--budget", "5m", "--patience", "2",
            "--monitor", "accuracy",
            "--precision", "bf16", "--target-recall", "0.9", "--decide-for", "balanced-accuracy", "--resize", "pad",
            "--class-names", "ok, cracked", "--class-weights", "auto", "--sampler", "balanced", "--group-by", "site",
            "--burst-gap", "2m", "--split-duplicates", "--progressive", "--no-lr-find",
        ])
        let o = try flags.options(over: TrainOptions(data: "d", out: "o"))
        #expect(o.arch == .resNet18 && o.size == 96 && o.presize == 120 && o.batchSize == 16 && o.seed == 7)
        #expect(o.validFraction == 0.25 && o.augmentation == .topDown && o.maxRotation == 5 && o.maxZoom == 1.2)
        #expect(o.maxLighting == 0.1 && o.weights == "w.safetensors" && o.nameColumn == "file")
        #expect(o.labelColumn == "kind" && o.recipe.unfrozenCycles == 2 && o.recipe.cycleLength == 3)
        #expect(o.recipe.cycleMult == 2 && o.recipe.ttaViews == 6 && o.epochs == 9 && o.headEpochs == 1)
        #expect(o.lr == .value(2e-3) && o.budget == TimeSpan(seconds: 300) && o.patience == 2 && o.monitor == .accuracy)
        #expect(o.precision == .bf16 && o.targetRecall == 0.9 && o.decideFor == .balancedAccuracy && o.resize == .pad)
        #expect(o.classNames == ["ok", "cracked"] && o.classWeights == .auto && o.sampler == .balanced)
        #expect(o.groupBy == "site" && o.burstGap == TimeSpan(seconds: 120) && o.splitDuplicates && o.progressive)
        #expect(!o.lrFind && o.weightDecay == 0.05 && o.data == "d" && o.out == "o")
    }

    /// No property of the flags is silently dropped: each is an option or one of the named exceptions.
    @Test func everyPropertyNamesAnOptionOrIsAnException() throws {
        let everything = try TrainFlags.parse([
            "--lr-find", "--config", "c.yaml", "--print-config", "--no-mixed-precision",
        ])
        let names = Mirror(reflecting: everything).children.compactMap(\.label).map { String($0.dropFirst()) }
        let known = TrainOptions.optionNames.union(TrainOptions.recipeOptionNames).union(TrainFlags.notOptions)
        for name in names where !["limits", "columns"].contains(name) {
            #expect(known.contains(name), "flag property '\(name)' sets no option")
        }
        #expect(names.count > 30)
    }

    /// Flags override the config file, which overrides the defaults; a flag not given leaves the config's value.
    @Test func flagsOverrideTheConfigFile() throws {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("flags-\(UUID().uuidString).yaml")
        try "size: 64\nseed: 3\nrecipe:\n  ttaViews: 2\n".write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }  // a temporary file: nothing to report
        let flags = try TrainFlags.parse(["--config", config.path, "--seed", "9", "--no-mixed-precision"])
        let o = try flags.options(over: TrainOptions(data: "d", out: "o"))
        #expect(o.size == 64 && o.seed == 9 && o.recipe.ttaViews == 2 && o.precision == .fp32 && o.lrFind)
        #expect(o.recipe.unfrozenCycles == Recipe().unfrozenCycles)
    }

    /// A library error names the option as a config file does; train's flags turn it into the flag typed.
    @Test func optionErrorsNameTheFlag() throws {
        let flags = try TrainFlags.parse(["--max-lighting", "1.5"])
        #expect {
            _ = try flags.options(over: TrainOptions(data: "d", out: "o"))
        } throws: {
            "\($0)".contains("--max-lighting must be at least 0 and below 1, not 1.5")
        }
    }
}
