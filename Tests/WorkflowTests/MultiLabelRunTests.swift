import Foundation
import Learn
import TestSupport
import Testing
import Vision
import Workflow

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
        #expect(heldOut.isMultiLabel && heldOut.items.count == 12 && heldOut.thresholds.count == 2)
        let scores = try #require(heldOut.labelScores)
        // "bright" is the background: any model sees it. The square is harder on 40 photos: better than chance.
        #expect(scores.labels[0].rocAUC > 0.9, "\(scores.labels)")
        #expect(scores.labels[1].rocAUC > 0.6, "\(scores.labels)")
        let saved = try SavedModel(outcome.modelURL)
        #expect(saved.task == .multiLabel && saved.classes == ["bright", "square"])
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
    }

    @Test func optionsOfTheOtherTaskAreRefusedByName() {
        var o = TrainOptions(data: "d", out: "o")
        o.task = .multiLabel
        o.monitor = .accuracy
        #expect { try o.validate() } throws: {
            "\($0)".contains("option 'monitor' accuracy scores one class per photo")
        }
        o.monitor = .auto
        #expect(o.monitored == .meanAveragePrecision && o.decisionGoal == .f1)
        var single = TrainOptions(data: "d", out: "o")
        single.monitor = .meanAveragePrecision
        #expect { try single.validate() } throws: { "\($0)".contains("map needs task multi-label") }
        #expect(single.decisionGoal == .accuracy)
        single.monitor = .auto
        #expect(single.monitored == .validLoss)
    }
}
