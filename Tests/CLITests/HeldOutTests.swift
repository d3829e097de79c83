import Foundation
import Learn
import TestSupport
import Testing
import Vision
import Workflow

/// A labelled test folder (`test/` with `test_labels.csv` beside it, the layout Kaggle answers come in) is found by
/// explore, scored by train as held out, and scored again by evaluate given the folder or its CSV.
@Suite("A labelled test folder", .serialized, .enabled(if: Fixtures.hasPretrainedWeights, Fixtures.needsWeights))
struct HeldOutTests {
    @Test func isFoundScoredAsHeldOutAndEvaluatedByFolderOrCSV() throws {
        let data = try makeKaggleDataSet(trainCount: 24, testCount: 8, size: 48)
        // The test photos are named 1…8 like training photos: each CSV must be read against its own folder.
        let answers = "name,invasive\n" + (1...8).map { "\($0),\($0 % 2)\n" }.joined()
        try answers.write(to: data.appendingPathComponent("test_labels.csv"), atomically: true, encoding: .utf8)

        let explore = try quadrat(["explore", data.path, "--out", data.appendingPathComponent("e.html").path])
        #expect(explore.status == 0 && explore.output.contains("test/: 8 labelled images (0 4, 1 4)"), "\(explore)")

        let run = data.appendingPathComponent("run")
        let train = try quadrat([
            "train", data.path, "--out", run.path, "--size", "32", "--epochs", "1", "--batch-size", "8", "--tta", "1",
            "--no-lr-find", "--resize", "squish", "--class-names", "healthy, invasive",
        ])
        #expect(train.status == 0, "\(train.errors)")
        #expect(train.output.contains("held-out test 8 (test/, test_labels.csv)"), "\(train.output)")
        let heldOutLine = try #require(
            train.output.split(separator: "\n").first {
                $0.hasPrefix("held-out test (test/, test_labels.csv), 8 photos")
            })
        // "…: accuracy 0.8750, ROC AUC …": the four decimals after "accuracy ".
        let trainAccuracy = try #require(heldOutLine.components(separatedBy: "accuracy ").last?.prefix(6))

        let predictions = try String(contentsOf: run.appendingPathComponent("test_predictions.csv"), encoding: .utf8)
        #expect(predictions.split(separator: "\n").count == 9)
        // The report leads with the held-out score, names the validation's caveat and shows the class names.
        let html = try String(contentsOf: run.appendingPathComponent("report.html"), encoding: .utf8)
        let heldOut = try #require(html.range(of: "<b>Held-out test (test/, test_labels.csv)</b>"))
        let validation = try #require(html.range(of: "<b>Validation</b>"))
        #expect(heldOut.lowerBound < validation.lowerBound)
        #expect(html.contains("<section id='held-out'>") && html.contains("<section id='validation'>"))
        #expect(html.contains("also chose the epoch kept and fitted the calibration"))
        #expect(html.contains("<th>healthy</th>") && html.contains("<th>invasive</th>"))
        #expect(html.contains("id='heat-held-out'") && html.contains("id='heat-validation'"))
        // A squish model sees whole photos: its thumbnails show them whole (a crop model's are centre crops).
        #expect(html.contains("<figure class='ok whole'") || html.contains("<figure class='bad whole'"))
        let model = try SavedModel(run.appendingPathComponent("model.safetensors"))
        #expect(model.resize == .squish && model.classNames == ["healthy", "invasive"] && model.classes == ["0", "1"])

        // evaluate: the folder and its CSV read the same photos, with the same TTA the same accuracy as train's.
        let byFolder = try quadrat(["evaluate", run.path, data.appendingPathComponent("test").path, "--tta"])
        let byCSV = try quadrat(["evaluate", run.path, data.appendingPathComponent("test_labels.csv").path, "--tta"])
        #expect(byFolder.status == 0 && byFolder.output.contains("images: 8"), "\(byFolder.errors)")
        #expect(byCSV.output == byFolder.output, "\(byCSV.errors)")
        let accuracyLine = try #require(byFolder.output.split(separator: "\n").first { $0.hasPrefix("accuracy: ") })
        #expect(accuracyLine.hasPrefix("accuracy: \(trainAccuracy)"), "\(accuracyLine) vs \(heldOutLine)")
        #expect(accuracyLine.contains("invasive at probability ≥ 0.500"), "\(accuracyLine)")
        #expect(byFolder.output.contains("healthy "), "\(byFolder.output)")
    }
}
