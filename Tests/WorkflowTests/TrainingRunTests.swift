import Foundation
import Learn
import TestSupport
import Testing
import Vision

@testable import Workflow

@Suite("Workflow: options and the training run as a library", .serialized)
struct TrainingRunTests {
    @Test func configFileOverlaysTheBaseAndKeepsDataAndOut() throws {
        let base = TrainOptions(data: "d", out: "o")
        let json = Data(#"{"size": 64, "recipe": {"cycleLength": 2}, "data": "elsewhere"}"#.utf8)
        let o = try TrainOptions.decodingConfig(json, yaml: false, over: base)
        #expect(o.size == 64 && o.recipe.cycleLength == 2 && o.recipe.cycleMult == base.recipe.cycleMult)
        #expect(o.data == "d" && o.out == "o")
        let yaml = try TrainOptions.decodingConfig(Data("arch: resnet18\nseed: 7\n".utf8), yaml: true, over: base)
        #expect(yaml.arch == .resNet18 && yaml.seed == 7)
    }

    @Test func optionsFromAnOlderModelFileKeepWhatTheyHave() throws {
        // A model file written before newer fields existed: the old fields survive, new ones get defaults.
        let old = #"{"data": "d", "out": "o", "size": 96, "augmentation": "dihedral", "recipe": {"ttaViews": 2}}"#
        let o = try TrainOptions.reading(stored: Data(old.utf8))
        #expect(o.size == 96 && o.augmentation == .dihedral && o.recipe.ttaViews == 2 && o.batchSize == 32)
        // Before training and inference precision were told apart, one setting served both; retired keys are ignored.
        let older = #"{"data": "d", "out": "o", "lr": 0.002, "retired": 1, "recipe": {"mixedPrecision": false}}"#
        let read = try TrainOptions.reading(stored: Data(older.utf8))
        #expect(read.lr == .value(0.002) && !read.recipe.mixedPrecision && !read.recipe.inferenceMixedPrecision)
    }

    /// ROC AUC is recorded for two classes only: monitoring it on three would keep the last epoch in silence.
    @Test func rocAUCMonitorIsRefusedForMoreThanTwoClasses() throws {
        let data = try makeKaggleDataSet(trainCount: 12, testCount: 1, size: 32)
        let rows = (1...12).map { "\($0),\($0 % 3)" }.joined(separator: "\n")
        try ("name,invasive\n" + rows + "\n").write(
            to: data.appendingPathComponent("train_labels.csv"), atomically: true, encoding: .utf8)
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        options.monitor = .rocAUC
        #expect {
            try TrainingRun(options: options).run()
        } throws: { "\($0)".contains("option 'monitor' roc_auc needs two classes") && "\($0)".contains("has 3") }
        #expect(!FileManager.default.fileExists(atPath: data.appendingPathComponent("run").path))
    }

    @Test func validationNamesTheOption() {
        var o = TrainOptions(data: "d", out: "o")
        o.maxZoom = 0.5
        do {
            try o.validate()
            Issue.record("a zoom below 1 was accepted")
        } catch {
            #expect("\(error)".contains("option 'maxZoom' must be between 1 and 4, not 0.5"))
            #expect((error as? WorkflowError)?.option == "maxZoom")
        }
    }

    /// Recipe fields a config file can set are checked before any work: an empty rate list trained and exited 0,
    /// and `unfrozenFrom: 99` failed only after training had started, with a libtorch message.
    @Test func recipeFieldsOutOfRangeAreRefusedByName() {
        func refusal(_ change: (inout Recipe) -> Void) -> String {
            var o = TrainOptions(data: "d", out: "o")
            change(&o.recipe)
            do {
                try o.validate()
                return "accepted"
            } catch {
                return "\(error)"
            }
        }
        #expect(refusal { $0.unfrozenRates = [] }.contains("option 'recipe.unfrozenRates' must hold 1 to 3 numbers"))
        #expect(refusal { $0.unfrozenRateDivisors = [100, -1] }.contains("recipe.unfrozenRateDivisors"))
        #expect(refusal { $0.unfrozenFrom = 99 }.contains("option 'recipe.unfrozenFrom' must be between 0 and 2"))
        #expect(refusal { $0.unfrozenWarmup = 1 }.contains("recipe.unfrozenWarmup"))
        #expect(refusal { _ in } == "accepted")
        // The divisors scale the head's rate into the unfrozen rates.
        var recipe = Recipe()
        recipe.unfrozenRateDivisors = [100, 10, 2]
        let rates = recipe.unfrozenRates(forHeadRate: 2e-3)
        #expect(rates.count == 3 && zip(rates, [2e-5, 2e-4, 1e-3]).allSatisfy { abs($0 - $1) < 1e-15 }, "\(rates)")
    }

    /// The plan learns a run's pace only from epochs that agree: the seed-7 demo that shared the machine with a build
    /// (48 to 134 s an epoch) is not learnt from; a quiet one is, without its first (warm-up) epoch.
    @Test func aRunOnASharedMachineIsNotLearntFrom() {
        #expect(TrainingRun.steadyEpochSeconds([50, 96, 101, 134, 88, 49, 48, 48]) == nil)
        let quiet = TrainingRun.steadyEpochSeconds([70, 54, 48, 50, 47, 50, 48, 49])
        #expect(quiet.map { abs($0 - 346.0 / 7) < 1e-9 } == true, "\(String(describing: quiet))")
        #expect(TrainingRun.steadyEpochSeconds([70]) == nil && TrainingRun.steadyEpochSeconds([]) == nil)
    }

    /// `--lr` sets every rate as given; the LR finder's suggestion sets the head's, and the unfrozen rates follow it
    /// only up to the limit (a high suggestion, 5.5e-3 on ELPV with seed 7, threw the body about at the peak).
    @Test func theUnfrozenRatesFollowTheFinderOnlyUpToTheLimit() throws {
        let recipe = Recipe()
        func close(_ a: [Double], _ b: [Double]) -> Bool { zip(a, b).allSatisfy { abs($0 - $1) < 1e-15 } }
        let limit = TrainingRun.unfrozenBasisLimit
        let high = try #require(TrainingRun.rates(given: nil, suggested: 5.5e-3, recipe: recipe, bodyShare: 1))
        #expect(high.head == 5.5e-3 && close(high.unfrozen, recipe.unfrozenRates(forHeadRate: limit)), "\(high)")
        let low = try #require(TrainingRun.rates(given: nil, suggested: 2e-3, recipe: recipe, bodyShare: 0.5))
        #expect(low.head == 2e-3 && close(low.unfrozen, recipe.unfrozenRates(forHeadRate: 1e-3)), "\(low)")
        // The limit is on the body's share: a sigmoid head at 6e-3 (share 1/2) stays under it, one at 1e-2 does not.
        let sigmoid = try #require(TrainingRun.rates(given: nil, suggested: 6e-3, recipe: recipe, bodyShare: 0.5))
        #expect(close(sigmoid.unfrozen, recipe.unfrozenRates(forHeadRate: 3e-3)), "\(sigmoid)")
        let steep = try #require(TrainingRun.rates(given: nil, suggested: 1e-2, recipe: recipe, bodyShare: 0.5))
        #expect(close(steep.unfrozen, recipe.unfrozenRates(forHeadRate: limit)), "\(steep)")
        let given = try #require(TrainingRun.rates(given: 6e-3, suggested: 1e-3, recipe: recipe, bodyShare: 1))
        #expect(given.head == 6e-3 && close(given.unfrozen, recipe.unfrozenRates(forHeadRate: 6e-3)), "\(given)")
        // The finder's suggestion stays within the head's range; neither source: the recipe's own rates.
        let wild = try #require(TrainingRun.rates(given: nil, suggested: 1, recipe: recipe, bodyShare: 1))
        #expect(wild.head == TrainingRun.headRateRange.upperBound)
        #expect(TrainingRun.rates(given: nil, suggested: nil, recipe: recipe, bodyShare: 1) == nil)
    }

    /// The whole train path as a library call on a tiny generated set: every output file is written,
    /// the model reads back, and it beats chance on its validation images.
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func trainingRunWritesTheRunFolder() throws {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 1, size: 48)
        let home = Fixtures.isolatedHome
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        options.size = 32
        options.presize = 40
        options.batchSize = 8
        options.epochs = 2
        options.lr = .value(2e-3)
        options.precision = .fp32
        options.recipe.ttaViews = 1
        options.lrFind = false
        let outcome = try TrainingRun(options: options, resumeHint: "test").run()
        for file in ["model.safetensors", "history.csv", "valid_predictions.csv", "report.html", "config.json"] {
            #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("run/\(file)").path), "\(file)")
        }
        #expect(outcome.validAccuracy > 0.5, "\(outcome.validAccuracy)")
        // The report shows what the unknown answer rests on: validation's distances and the threshold.
        let reportPage = try String(contentsOf: outcome.reportURL, encoding: .utf8)
        #expect(reportPage.contains("<section id='unknown'>") && reportPage.contains("unknown beyond"))
        let saved = try SavedModel(outcome.modelURL)
        #expect(saved.size == 32 && saved.presizeCache.shorterSide == 40)
        // evaluate's job on the training folder: its figures, the class names (0/1 of `invasive`), the matrix.
        let evaluated = EvaluationSummary.lines(
            try LabelledPredictions(model: outcome.modelURL, data: data), tta: false)
        #expect(evaluated.first == "images: 24" && evaluated[1].contains("invasive at probability ≥ 0.500"))
        #expect(evaluated.contains { $0.hasPrefix("not invasive ") } && evaluated.last?.hasPrefix("  ") == true)
        // interpret's job: the page, named for the set it is, and the line the command prints.
        let page = data.appendingPathComponent("interpret.html")
        let line = try InterpretationReport.write(
            LabelledPredictions(model: outcome.modelURL, data: data), tta: false, title: "t", to: page)
        #expect(line.hasPrefix("accuracy ") && line.contains("on 24 images at threshold 0.500"), "\(line)")
        let html = try String(contentsOf: page, encoding: .utf8)
        #expect(
            html.contains("<b>These photos</b>") && html.contains("Most uncertain") && html.contains("not invasive"))
        // explore's job: counts, sizes, brightness and its hint, the test folder, the page.
        var said: [String] = []
        try DataExploration(data: data).run(page: data.appendingPathComponent("explore.html")) { said.append($0) }
        #expect(said.first == "24 images in 2 classes" && said.contains("test/: 1 unlabelled images"), "\(said)")
        #expect(said.contains { $0.hasPrefix("hint: classes 0 and 1 differ in brightness") }, "\(said)")
        #expect(FileManager.default.fileExists(atPath: data.appendingPathComponent("explore.html").path))
        // predict's job: the Kaggle text for the test folder, the photo said in words; a shard gives a part file.
        var said2: [String] = []
        var predicting = PredictionJob(model: saved)
        let predicted = try #require(
            try predicting.run(DataSource.unlabelled(data.appendingPathComponent("test"))) { said2.append($0) })
        // The photo in words, and the deployment check against the reference `train` left beside the model.
        #expect(predicted.count == 1 && predicted.text.hasPrefix("name,invasive\n1,") && said2.count == 3, "\(said2)")
        #expect(said2.contains { $0.hasPrefix("unknown: ") && $0.contains(" of 1 photos") }, "\(said2)")
        #expect(said2.contains { $0.hasPrefix("deployment check: ") && $0.contains(" of 1 photos lie") }, "\(said2)")
        // The csv format carries the unknown answer of each photo (the run's reference has the threshold).
        predicting.format = .csv
        let withUnknown = try #require(
            try predicting.run(DataSource.unlabelled(data.appendingPathComponent("test"))) { _ in })
        #expect(withUnknown.text.hasPrefix("name,file,predicted,p_0,p_1,unknown_distance,unknown\n"), "\(withUnknown)")
        predicting.format = .kaggle
        predicting.shard = PredictionShards.Shard(index: 1, count: 1)
        let part = try #require(try predicting.run(DataSource.unlabelled(data.appendingPathComponent("test"))) { _ in })
        #expect(part.text != predicted.text && part.count == 1)
        // The event table's empty class must be a class of the model; a right one is taken by its index.
        let table = data.appendingPathComponent("events.csv")
        #expect {
            try predicting.writeEvents(to: table, gap: TimeSpan(seconds: 60), emptyClass: "nothing")
        } throws: { "\($0)".contains("--empty-class nothing is not a class of the model (0, 1)") }
        try predicting.writeEvents(to: table, gap: TimeSpan(seconds: 90), emptyClass: "0")
        #expect(predicting.events?.emptyClass == 0 && predicting.events?.gap == 90)
        // lr-find's job: the suggestions, the rate train would use (within its range), the plot and the curve.
        var finder = LRFinding(data: data)
        finder.size = 32
        var found: [String] = []
        let result = try finder.run(page: data.appendingPathComponent("lr.html")) { found.append($0) }
        #expect(found.first?.hasPrefix("suggested learning rate: ") == true && found[0].contains("train would use"))
        let curve = try String(contentsOf: data.appendingPathComponent("lr.csv"), encoding: .utf8)
        #expect(
            curve.hasPrefix("learning_rate,smoothed_loss\n")
                && result.rates.count + 2 == curve.split(separator: "\n").count + 1)
        // --epochs and --lr round-trip into the model file and config.json, with the recipe they resolved to.
        let stored = try #require(try saved.trainOptions())
        #expect(stored.epochs == 2 && stored.lr == .value(2e-3) && stored.precision == .fp32)
        let config = try JSONDecoder().decode(
            TrainOptions.self, from: Data(contentsOf: data.appendingPathComponent("run/config.json")))
        #expect(config.epochs == 2 && config.lr == .value(2e-3))
        #expect(config.recipe.cycleLength == 2 && config.recipe.unfrozenCycles == 1 && config.recipe.headRate == 2e-3)
        #expect(config.recipe.unfrozenRates == [2e-3 / 600, 2e-3 / 60, 2e-3 / 10] && !config.recipe.mixedPrecision)
        // The kept epoch is named in the model file and the report.
        let best = try #require(saved.metadata["best_epoch"].flatMap(Int.init))
        // Keep-best keeps the lowest validation loss among the last head epoch (3) and the unfrozen ones (4, 5).
        let history = try String(contentsOf: data.appendingPathComponent("run/history.csv"), encoding: .utf8)
        let losses = history.split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        .map { Double($0[3]) ?? .infinity }
        #expect(losses.count == 5)
        let candidates = 3...5
        let lowest = try #require(candidates.min { losses[$0 - 1] < losses[$1 - 1] })
        #expect(best == lowest, "best epoch \(best), history:\n\(history)")
        let report = try String(contentsOf: outcome.reportURL, encoding: .utf8)
        #expect(report.contains("<tr class='best'>") && report.contains("The model kept is epoch \(best)"))
        #expect(try saved.labelColumnName() == "invasive")
        // Features were cached under the temporary home, not the user's.
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("features").path))
    }
}
