import Foundation
import Learn
import TestSupport
import Testing
import Torch
import Vision

@testable import Workflow

/// The cross-validation bundle: K model files as one, read back as an ensemble whose probabilities are the
/// members' average, calibrated with the bundle's own calibration.
@Suite struct EnsembleTests {
    @Test func bundleRoundTripAveragesTheMembers() throws {
        let folder = try Fixtures.temporaryFolder()
        let members = try [7, 8].map {
            try ONNXExportTests.modelFile(.efficientNetLite0, size: 48, in: folder, seed: UInt64($0), name: "m\($0)")
        }
        // The members' resize method and class names carry over to the bundle.
        for member in members {
            var (tensors, metadata) = try Learner.readCheckpoint(member)
            (metadata["resize"], metadata["class_names"]) = ("pad", #"["c","d","o"]"#)
            try Safetensors.write(tensors, metadata: metadata, to: member)
        }
        let calibration = ModelCalibration(plain: Calibration(temperature: 2), tta: nil)
        let bundle = folder.appendingPathComponent("ensemble.safetensors")
        try CrossValidation.bundle(
            members,
            calibration: ["calibration": String(decoding: try JSONEncoder().encode(calibration), as: UTF8.self)],
            to: bundle)

        let ensemble = try SavedModel(bundle)
        #expect(ensemble.members.count == 2 && ensemble.classes == ["cat", "dog", "owl"] && ensemble.size == 48)
        #expect(ensemble.calibration(tta: false) == calibration.plain)
        #expect(ensemble.resize == .pad && ensemble.classNames == ["c", "d", "o"])
        let photos = ["baseline.jpg", "exif3.jpg", "exif6.jpg"].map { name in
            ImageItem(url: Fixtures.url("images/\(name)"), name: name, label: nil)
        }
        let dataset = ImageDataset(items: photos, classes: [])
        let each = try members.map { try SavedModel($0).predict(dataset, calibrated: false).probabilities }
        let mean = zip(each[0], each[1]).map { zip($0, $1).map { ($0 + $1) / 2 } }
        let averaged = try ensemble.predict(dataset, calibrated: false)
        #expect(averaged.items == [0, 1, 2])
        for (got, want) in zip(averaged.probabilities, mean) {
            for (a, b) in zip(got, want) { #expect(abs(a - b) < 1e-6) }
        }
        // The members disagree (else the average proves nothing), and the calibration is applied on top.
        #expect(zip(each[0], each[1]).contains { zip($0, $1).contains { abs($0 - $1) > 1e-3 } })
        let calibrated = try ensemble.predict(dataset).probabilities
        for (got, want) in zip(calibrated, mean) {
            let softened = calibration.plain.apply(want)
            for (a, b) in zip(got, softened) { #expect(abs(a - b) < 1e-6) }
        }
        // In-memory inputs (serve) average the same way.
        let bytes = try [UInt8](Data(contentsOf: photos[0].url))
        let input = try ensemble.input(imageBytes: bytes, source: photos[0].url)
        let served = try ensemble.probabilities(inputs: [input])[0]
        for (a, b) in zip(served, calibration.plain.apply(mean[0])) { #expect(abs(a - b) < 1e-5) }
    }

    @Test func meanAndDeviationOfFolds() {
        let (mean, sd) = [0.8, 0.9, 1.0].meanAndDeviation
        #expect(abs(mean - 0.9) < 1e-12 && abs(sd - 0.1) < 1e-12)
    }
}
