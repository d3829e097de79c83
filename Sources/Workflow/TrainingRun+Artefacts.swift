import Foundation
import Learn
import Report
import Torch
import Vision

extension TrainingRun {
    /// Stage 7: config.json, the model file, history.csv, valid_predictions.csv (and test_predictions.csv with a
    /// held-out test), the report; the served checkpoint of a resumed run is removed.
    func writeRunFolder(
        _ data: RunData, learner: Learner, recipe: Recipe, decided: RunDecisions, scores: RunScores,
        lrFinder: LRFinderResult?, bestEpoch: Int?, start: Date, times: PhaseTimes
    ) throws -> TrainingOutcome {
        let skipped = (data.skipped + data.trainLoader.skipped.all + scores.skipped).onePerImage()
        report(problems: skipped, skipped: true)
        // The model file and config.json carry the options as used: the user's, with the size, presize and the
        // recipe as planned (precision included, which `predict` and the demo follow).
        var used = options
        used.size = data.size
        used.presize = data.cache.shorterSide
        used.recipe = recipe
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try AtomicFile.write(encoder.encode(used), to: data.out.appendingPathComponent("config.json"))
        learner.checkpointMetadata["options"] = String(decoding: try JSONEncoder().encode(used), as: UTF8.self)
        let modelURL = data.out.appendingPathComponent("model.safetensors")
        try learner.saveCheckpoint(to: modelURL)
        let saved = try SavedModel(modelURL)
        var times = times
        let unknown = times.time("deployment reference") { writeDriftReference(saved, data: data, scores: scores) }
        times.time("INT8 calibration") { writeInt8Calibration(saved, data: data) }
        try AtomicFile.write(learner.recorder.historyCSV(), to: data.out.appendingPathComponent("history.csv"))
        for (score, file) in [(scores.validation, "valid_predictions.csv"), (scores.heldOut, "test_predictions.csv")] {
            guard let score else { continue }
            try PredictionsFile.write(
                probabilities: score.probabilities, items: score.items, classes: data.dataset.classes,
                decided: options.task.task.decidesEachClass ? score.decided : nil,
                to: data.out.appendingPathComponent(file))
        }
        times.phases["presize"] = data.presizeSeconds
        times.phases["split (duplicate search)"] = data.splitSeconds
        times.order.insert(contentsOf: ["presize", "split (duplicate search)"], at: 0)
        times.phases["total"] = Date().timeIntervalSince(start)
        times.order.append("total")
        let reportURL = data.out.appendingPathComponent("report.html")
        let page = try ReportBuilder.training(
            dataset: data.dataset.renamed(saved.classNames), validSet: data.validSet.renamed(saved.classNames),
            recorder: learner.recorder, lrFinder: lrFinder,
            evaluation: evaluation(scores.validation, saved: saved, views: recipe.ttaViews),
            heldOut: scores.heldOut.map { evaluation($0, saved: saved, views: recipe.ttaViews) },
            times: times, problems: skipped, cache: data.cache,
            title: "Quadrat — \(data.architecture.rawValue) on \(URL(fileURLWithPath: options.data).lastPathComponent)",
            run: runFacts(
                used, recipe: recipe, decided: decided, lrFinder: lrFinder, bestEpoch: bestEpoch, start: start,
                architecture: data.architecture, agreement: learner.checkpointMetadata["precision_agreement"],
                splitNotes: data.splitNotes),
            augmentation: AugmentationPreview.rows(
                data.dataset.renamed(saved.classNames), augmentation: options.augmentationSettings, size: data.size,
                cache: data.cache, resize: options.resize),
            unknown: unknown)
        try AtomicFile.write(page, to: reportURL)
        Feedback.log(
            "phase times: "
                + times.order.map { String(format: "%@ %.0fs", $0, times.phases[$0] ?? 0) }.joined(separator: ", "))
        Feedback.log(
            String(
                format: "took %@ (planned %@)", Feedback.clock(Date().timeIntervalSince(start)),
                Feedback.clock((decided.plannedEnd ?? start).timeIntervalSince(start))))
        removeServedCheckpoint(in: data.out)
        return TrainingOutcome(
            validAccuracy: scores.validation.accuracy, validAUC: scores.validation.rocAUC, times: times,
            modelURL: modelURL, reportURL: reportURL, heldOut: scores.heldOut)
    }

    /// What the report shows of a scored set, with the saved model's class names, calibration and heat maps.
    func evaluation(_ score: SetScore, saved: SavedModel, views: Int) -> EvaluationInput {
        let tta = views > 0 ? " (with TTA ×\(views + 1))" : ""
        let isValidation = score.name == "validation"
        var input = EvaluationInput(
            probabilities: score.probabilities, items: score.items, classes: saved.classNames,
            calibration: saved.calibration(tta: views > 0), uncalibrated: score.uncalibrated,
            heatMap: { saved.heatMapOverlay(of: score.items[$0].url) },
            heading: isValidation ? "Validation\(tta)" : "Held-out test: \(score.name)\(tta)")
        input.set = isValidation ? .validation : .heldOut(score.name)
        input.anchor = isValidation ? "validation" : "held-out"
        input.wholePhoto = saved.resize != .crop
        saved.task.workflow.describe(&input, truth: score.truth, saved: saved, tta: views > 0)
        return input
    }

    /// `int8-calibration.json` beside the model, for `--precision int8`: activation ranges on up to 256 training
    /// photos. A failure costs only INT8 inference.
    func writeInt8Calibration(_ saved: SavedModel, data: RunData) {
        do {
            let calibration = try Int8Calibration.fit(saved, items: data.trainSet.items)
            try calibration.write(beside: saved)
            Feedback.log(
                "INT8 calibration: \(calibration.members.first?.photos ?? 0) training photos (for --precision int8)")
        } catch {
            try? FileManager.default.removeItem(at: Int8Calibration.url(beside: saved))  // an older model's must go
            Feedback.warn("note: no INT8 calibration (--precision int8 will need `quadrat quantize`): \(error)")
        }
    }

    /// `drift.safetensors` beside the model, for `predict`'s deployment check; a failure costs only the check.
    @discardableResult
    func writeDriftReference(_ saved: SavedModel, data: RunData, scores: RunScores) -> UnknownFacts? {
        let url = data.out.appendingPathComponent(DriftReference.fileName)
        do {
            let (reference, distances) = try DriftReference.fit(
                saved, train: data.trainSet.items, valid: scores.validation.items, validFeatures: scores.validFeatures,
                validProbabilities: scores.validation.probabilities, seed: options.seed,
                unknownRate: options.unknownRate)
            try reference.write(to: url)
            Feedback.log(
                String(
                    format: "deployment reference: %d training photos; 99 %% of validation within distance %.4f",
                    reference.reference.shape[0], reference.threshold)
                    + (reference.unknownThreshold.map {
                        String(
                            format: "; beyond %.4f a photo is answered unknown (%.0f %% of validation)", $0,
                            options.unknownRate * 100)
                    } ?? ""))
            return UnknownFacts(
                validationDistances: distances, referenceCount: reference.reference.shape[0],
                unknownThreshold: reference.unknownThreshold, unknownRate: reference.unknownRate,
                driftThreshold: reference.threshold)
        } catch {
            try? FileManager.default.removeItem(at: url)  // a reference of an older model must not stay
            Feedback.warn("note: no deployment reference (predict will not check new photos): \(error)")
            return nil
        }
    }

    /// What the report says of the run's decisions: the rate and why, the epoch kept, notes and settings.
    func runFacts(
        _ used: TrainOptions, recipe: Recipe, decided: RunDecisions, lrFinder: LRFinderResult?, bestEpoch: Int?,
        start: Date, architecture: Architecture, agreement: String?, splitNotes: [String]
    ) -> RunFacts {
        var facts = RunFacts(
            learningRate: recipe.headRate, bestEpoch: bestEpoch, monitor: options.monitored.rawValue,
            notes: splitNotes + notes(decided) + (agreement.map { [$0] } ?? []),
            settings: settings(used, architecture: architecture, started: start))
        if options.resume != nil {
            facts.learningRateReason = "the rate of the run this one resumes"
        } else if options.lr != .auto {
            facts.learningRateReason = "set with --lr"
        } else if let lrFinder {
            facts.learningRateReason =
                recipe.headRate == lrFinder.minimum
                ? "the finder's min/10"
                : String(
                    format: "the finder's min/10 (%.1e) brought within %.0e to %.0e, where the head trains well "
                        + "(a flat or noisy curve can put its minimum far outside)", lrFinder.minimum,
                    Self.headRateRange.lowerBound, Self.headRateRange.upperBound)
        }
        return facts
    }

    /// The plan and precision lines under the report's summary.
    func notes(_ decided: RunDecisions) -> [String] {
        [
            "plan: \(decided.plan.summary)" + (options.budget.map { " (budget \(Feedback.clock($0.seconds)))" } ?? ""),
            "precision: " + decided.precision + " on \(MachineProfile.machineKey)",
        ] + (group.map { ["data-parallel: \($0.worldSize) processes"] } ?? [])
    }

    /// The run that an interrupted one left its checkpoint for is complete: the 75 MB file has served.
    func removeServedCheckpoint(in out: URL) {
        let interruptURL = out.appendingPathComponent("interrupted.safetensors")
        guard let resume = options.resume, URL(fileURLWithPath: resume).standardized == interruptURL.standardized
        else { return }
        try? FileManager.default.removeItem(at: interruptURL)  // already gone: nothing to do
        Feedback.log("removed the checkpoint \(interruptURL.path): the resumed run is complete")
    }
}

extension ImageDataset {
    /// The same photos with the classes shown under other names.
    func renamed(_ names: [String]) -> ImageDataset {
        guard names.count == classes.count else { return self }
        var copy = self
        copy.classes = names
        return copy
    }
}
