import Foundation
import TestSupport
import Testing

@Suite("quadrat train --folds", .serialized, .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct CrossValidationCLITests {
    /// Two folds: a run folder per fold, every labelled image predicted out of fold once, the scores per fold with
    /// mean and sd, and the ensemble that predict reads and export refuses.
    @Test func twoFoldsWriteOutOfFoldPredictionsAndAnEnsemble() throws {
        let data = try makeKaggleDataSet(trainCount: 20, testCount: 2, size: 40)
        let run = data.appendingPathComponent("cv")
        let train = try quadrat([
            "train", data.path, "--out", run.path, "--folds", "2", "--size", "32", "--batch-size", "8", "--epochs", "1",
            "--tta", "0", "--no-lr-find", "--lr", "3e-3",
        ])
        #expect(train.status == 0, "\(train.errors)")
        #expect(train.output.contains("cross-validation, 2 folds: accuracy "), "\(train.output)")
        for file in ["fold-1/model.safetensors", "fold-2/report.html", "model.safetensors"] {
            #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent(file).path), "\(file)")
        }
        let oof = try String(contentsOf: run.appendingPathComponent("oof_predictions.csv"), encoding: .utf8)
        let names = oof.split(separator: "\n").dropFirst().map { $0.split(separator: ",")[0] }
        #expect(names.count == 20 && Set(names).count == 20)
        let table = try String(contentsOf: run.appendingPathComponent("cross_validation.csv"), encoding: .utf8)
        #expect(table.hasPrefix("fold,images,accuracy,roc_auc\n1,10,") && table.contains("\nmean,20,"), "\(table)")

        let model = run.appendingPathComponent("model.safetensors").path
        let predicted = try quadrat(["predict", model, data.appendingPathComponent("test").path, "--format", "csv"])
        #expect(predicted.status == 0 && predicted.output.split(separator: "\n").count == 3, "\(predicted.errors)")
        let exported = try quadrat(["export", model])
        #expect(exported.status == 1 && exported.errors.contains("is an ensemble of 2 models"), "\(exported.errors)")
        // The out-of-fold predictions feed the label audit.
        let auditFolder = data.appendingPathComponent("audit")
        let oofPath = run.appendingPathComponent("oof_predictions.csv").path
        let audit = try quadrat(["audit", data.path, "--predictions", oofPath, "--out", auditFolder.path])
        #expect(audit.status == 0 && audit.output.contains("20 photos, predictions from"), "\(audit.errors)")
        let auditRows = try String(contentsOf: auditFolder.appendingPathComponent("audit.csv"), encoding: .utf8)
        #expect(auditRows.split(separator: "\n").count == 21)
        let notPredictions = try quadrat(
            ["audit", data.path, "--predictions", run.appendingPathComponent("cross_validation.csv").path])
        #expect(notPredictions.status == 1 && notPredictions.errors.contains("expected a name column"))
        let badFolds = try quadrat(["train", data.path, "--out", run.path, "--folds", "1"])
        #expect(badFolds.status == 64 && badFolds.errors.contains("--folds must be 2 to 20"), "\(badFolds.errors)")
        let noRepeats = try quadrat(["audit", data.path, "--repeats", "0"])
        #expect(noRepeats.status == 64 && noRepeats.errors.contains("--repeats must be at least 1"))
        let tooManyViews = try quadrat(["audit", data.path, "--views", "8"])
        #expect(tooManyViews.status == 64 && tooManyViews.errors.contains("--views must be 0 to 7, not 8"))
    }
}
