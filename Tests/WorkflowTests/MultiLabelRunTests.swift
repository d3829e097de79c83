import Foundation
import Learn
import ONNX
import TestSupport
import Testing
import Torch
import Vision

@testable import Workflow

@Suite("Workflow: a multi-label training run", .serialized)
struct MultiLabelRunTests {
    /// `train --task multi-label` on a generated set whose photos are bright, have a square, both or neither: the
    /// model learns the labels, keeps a threshold per label, scores the held-out test, and writes the labels in its
    /// predictions and the per-label section in its report.
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func aMultiLabelRunLearnsEachLabel() throws {
        let data = try makeMultiLabelDataSet(trainCount: 40, testCount: 12, size: 48)
        let home = Fixtures.isolatedHome
        setenv("QUADRAT_HOME", home.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("run").path)
        options.task = .multiLabel
        options.size = 32
        options.presize = 40
        options.batchSize = 8
        options.epochs = 3
        options.lr = .value(3e-3)
        options.precision = .fp32
        options.recipe.ttaViews = 1
        options.lrFind = false
        let outcome = try TrainingRun(options: options, resumeHint: "test").run()
        let heldOut = try #require(outcome.heldOut)
        #expect(heldOut.names.accuracy == "exact match" && heldOut.items.count == 12 && heldOut.thresholds.count == 2)
        let scores = try #require(heldOut.labelScores)
        // "bright" is the background: any model sees it. The square is harder on 40 photos: better than chance.
        #expect(scores.labels[0].rocAUC > 0.9, "\(scores.labels)")
        #expect(scores.labels[1].rocAUC > 0.6, "\(scores.labels)")
        let saved = try SavedModel(outcome.modelURL)
        #expect(saved.task == .multiLabel && saved.classes == ["bright", "square"])
        // The sigmoid head's rate is 3e-3; the body's rates come from half of it.
        let rates = try #require(try TrainingRun.rates(inCheckpoint: outcome.modelURL))
        let bodyRates = Recipe().unfrozenRates(forHeadRate: 1.5e-3)
        #expect(rates.head == 3e-3 && zip(rates.unfrozen, bodyRates).allSatisfy { abs($0 - $1) < 1e-15 }, "\(rates)")
        #expect(saved.labelCalibration(tta: true)?.thresholds.count == 2)
        // Sigmoid outputs: a photo's probabilities need not sum to 1.
        let predicted = try saved.predict(DataSource.unlabelled(data.appendingPathComponent("test")))
        #expect(predicted.probabilities.count == 12 && predicted.probabilities.allSatisfy { $0.count == 2 })
        let csv = try String(contentsOf: data.appendingPathComponent("run/test_predictions.csv"), encoding: .utf8)
        #expect(csv.hasPrefix("name,labels,predicted,p_bright,p_square\n"), "\(csv.prefix(80))")
        #expect(csv.contains("\n1,bright square,") && csv.contains("\n2,,"), "\(csv)")
        let page = try String(contentsOf: outcome.reportURL, encoding: .utf8)
        #expect(page.contains("exact match") && page.contains("Precision against recall, per label"))
        #expect(page.contains("square: most confident false negatives") && page.contains("Labels together"))
        let config = try String(contentsOf: data.appendingPathComponent("run/config.json"), encoding: .utf8)
        #expect(config.contains("\"task\" : \"multi-label\""))
        try checkPredictions(saved, test: data.appendingPathComponent("test"))
        try checkExport(saved, folder: data)
        // explain --class: one label's heat map, with the sigmoid probabilities the model gives.
        let explained = try Explanations.run(
            saved, photos: [data.appendingPathComponent("test/1.jpg")], out: data, className: "square"
        ) { _, error in Issue.record("\(error)") }
        let map = try #require(explained.first?.map)
        #expect(map.classIndex == 1 && map.probabilities.count == 2)
        let expected = try saved.predict(DataSource.unlabelled(data.appendingPathComponent("test")), calibrated: false)
        #expect(abs(map.probabilities[1] - expected.probabilities[0][1]) < 1e-3, "\(map.probabilities)")
    }

    /// predict's formats: the Kaggle file lists each photo's decided labels under the label column, csv in its
    /// `predicted` column, json as a list; the photos are said in words.
    func checkPredictions(_ saved: SavedModel, test: URL) throws {
        var job = PredictionJob(model: saved)
        job.driftCheck = false
        var said: [String] = []
        let listing = try DataSource.unlabelled(test)
        let kaggle = try #require(try job.run(listing) { said.append($0) }).text
        let thresholds = try #require(saved.labelCalibration(tta: false)).thresholds
        let probabilities = try saved.predict(listing).probabilities
        let rows = kaggle.split(separator: "\n").dropFirst().map {
            $0.split(separator: ",", omittingEmptySubsequences: false)
        }
        #expect(kaggle.hasPrefix("name,tags\n") && rows.count == 12, "\(kaggle)")
        for (row, p) in zip(rows, probabilities) {
            let expected = zip(["bright", "square"], zip(p, thresholds)).filter { $0.1.0 >= $0.1.1 }.map(\.0)
            #expect(row[1].split(separator: " ").map(String.init) == expected, "\(row) \(p)")
        }
        #expect(said.isEmpty, "12 photos are not said one by one")
        job.format = .csv
        let csv = try #require(try job.run(listing) { _ in }).text
        #expect(csv.hasPrefix("name,file,predicted,p_bright,p_square\n"))
        job.format = .json
        let json = try #require(try job.run(listing) { _ in }).text
        let decoded = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]])
        #expect(decoded.count == 12 && decoded.allSatisfy { $0["predicted"] is [String] })
        // A few photos are said in words: their labels with their probabilities.
        var one = listing
        one.items = [listing.items[0]]
        job.format = .kaggle
        said = []
        _ = try job.run(one) { said.append($0) }
        #expect(said.count == 1 && said[0].hasPrefix("1: ") && (said[0].contains(" %") || said[0].contains("none")))
    }

    /// The ONNX export ends in a sigmoid over each label's tempered logit, and says the thresholds.
    func checkExport(_ saved: SavedModel, folder: URL) throws {
        let url = folder.appendingPathComponent("model.onnx")
        try ModelExport.onnx(saved, to: url)
        let model = try Onnx_ModelProto(serializedBytes: Data(contentsOf: url))
        #expect(
            model.graph.node.contains { $0.opType == "Sigmoid" }
                && !model.graph.node.contains { $0.opType == "Softmax" })
        let metadata = Dictionary(uniqueKeysWithValues: model.metadataProps.map { ($0.key, $0.value) })
        #expect(metadata["task"] == "multi-label" && metadata["thresholds"]?.hasPrefix("[") == true)
        let inputs = try (0..<3).map { _ in try (Tensor.rand([3 * 32 * 32]) * 255).toArray(Float.self) }
        let expected = try saved.probabilities(inputs: inputs)
        let outputs = try Torch.withoutGrad {
            try ONNXReference(model: model).run(["image": Tensor(inputs.flatMap { $0 }, shape: [3, 3, 32, 32])])
        }
        let graph = try #require(outputs["probabilities"]).toArray(Float.self)
        let difference = zip(expected.flatMap { $0 }, graph).map { abs($0 - Double($1)) }.max() ?? 1
        #expect(difference < 1e-4, "ONNX probabilities \(difference) away")
    }

    /// `train --task multi-label --folds 3`: folds by iterative stratification, a temperature and threshold per label
    /// fitted on the out-of-fold probabilities, and an ensemble that reads back as a multi-label model.
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func crossValidationOfMultiLabelData() throws {
        let data = try makeMultiLabelDataSet(trainCount: 24, testCount: 1, size: 48)
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("cv").path)
        (options.task, options.size, options.batchSize, options.epochs) = (.multiLabel, 32, 8, 1)
        (options.lr, options.precision, options.lrFind) = (.value(3e-3), .fp32, false)
        options.recipe.ttaViews = 0
        let outcome = try CrossValidation(options: options, folds: 3).run()
        #expect(outcome.accuracies.count == 3)
        let out = data.appendingPathComponent("cv")
        let table = try String(contentsOf: out.appendingPathComponent("cross_validation.csv"), encoding: .utf8)
        #expect(table.hasPrefix("fold,images,exact_match,roc_auc\n"))
        let oof = try String(contentsOf: out.appendingPathComponent("oof_predictions.csv"), encoding: .utf8)
        #expect(oof.hasPrefix("name,labels,predicted,p_bright,p_square\n") && oof.split(separator: "\n").count == 25)
        let ensemble = try SavedModel(outcome.modelURL)
        #expect(ensemble.members.count == 3 && ensemble.task == .multiLabel)
        #expect(ensemble.labelCalibration(tta: false)?.thresholds.count == 2)
    }

    /// `--folds 3 --group-by site` on multi-label data: whole sites in one fold. One site has 12 of the 24 photos, the
    /// others 4 each, so a fold holds 12 photos at least (iterative stratification alone would give 8, 8, 8).
    @Test(.enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
    func crossValidationOfMultiLabelDataKeepsGroupsWhole() throws {
        let data = try makeMultiLabelDataSet(trainCount: 24, testCount: 1, size: 48)
        let csv = data.appendingPathComponent("train_labels.csv")
        let rows = try String(contentsOf: csv, encoding: .utf8).split(separator: "\n")
        let sited = ["name,tags,site"] + rows.dropFirst().enumerated().map { "\($1),s\(max(0, $0 / 4 - 2))" }
        try (sited.joined(separator: "\n") + "\n").write(to: csv, atomically: true, encoding: .utf8)
        setenv("QUADRAT_HOME", Fixtures.isolatedHome.path, 1)
        defer { unsetenv("QUADRAT_HOME") }
        var options = TrainOptions(data: data.path, out: data.appendingPathComponent("cv").path)
        (options.task, options.size, options.batchSize, options.epochs) = (.multiLabel, 32, 8, 1)
        (options.lr, options.precision, options.lrFind, options.groupBy) = (.value(3e-3), .fp32, false, "site")
        options.recipe.ttaViews = 0
        let outcome = try CrossValidation(options: options, folds: 3).run()
        #expect(outcome.accuracies.count == 3)
        let table = try String(
            contentsOf: data.appendingPathComponent("cv/cross_validation.csv"), encoding: .utf8)
        let counts = table.split(separator: "\n").filter { $0.first?.isNumber == true }.compactMap { line in
            line.split(separator: ",").dropFirst().first.flatMap { Int($0) }
        }
        #expect(counts.count == 3 && counts.reduce(0, +) == 24, "\(table)")
        #expect(counts.allSatisfy { $0 % 4 == 0 } && (counts.max() ?? 0) >= 12, "\(table)")
    }

    @Test func optionsOfTheOtherTaskAreRefusedByName() {
        var o = TrainOptions(data: "d", out: "o")
        o.task = .multiLabel
        o.monitor = .accuracy
        #expect { try o.validate() } throws: {
            "\($0)".contains(
                "option 'monitor' accuracy scores single-label models: a multi-label model monitors map, "
                    + "macro_f1, valid_loss")
        }
        o.monitor = .auto
        #expect(o.monitored == .meanAveragePrecision && o.decisionGoal == .f1)
        var single = TrainOptions(data: "d", out: "o")
        single.monitor = .meanAveragePrecision
        #expect { try single.validate() } throws: { "\($0)".contains("map scores multi-label models") }
        single.monitor = .validLoss
        single.classNames = ["good", "bad"]
        #expect(throws: Never.self) { try single.validate() }
        o.classNames = ["a", "b"]
        #expect { try o.validate() } throws: { "\($0)".contains("multi-label data keeps its labels") }
        single.classNames = nil
        #expect(single.decisionGoal == .accuracy)
        single.monitor = .auto
        #expect(single.monitored == .validLoss)
    }
}
