import Foundation
import Learn
import Report
import Torch
import Vision

/// `quadrat interpret`'s job: the error-analysis page of a model on a labelled folder (scores, confusion matrices,
/// ROC and reliability before and after calibration, photo grids with heat maps), written to `url`; returns the
/// line the command prints.
public enum InterpretationReport {
    public static func write(_ p: LabelledPredictions, tta: Bool, title: String, to url: URL) throws -> String {
        let saved = p.saved, items = p.items
        let calibration = saved.calibration(tta: tta)
        var evaluation = EvaluationInput(
            probabilities: p.probabilities, items: items, classes: saved.classNames, calibration: calibration,
            // Undo the calibration for the reliability diagram's "before".
            uncalibrated: calibration.map { c in p.probabilities.map(c.uncalibrated) },
            heatMap: { saved.heatMapOverlay(of: items[$0].url) }, heading: "Error analysis")
        evaluation.set = .labelled
        evaluation.wholePhoto = saved.resize != .crop
        saved.task.workflow.describe(&evaluation, truth: p.truth, saved: saved, tta: tta)
        Feedback.log("writing the report: Grad-CAM heat maps of the photos it shows…")
        let started = Date()
        let html = try ReportBuilder.interpretation(
            evaluation, problems: p.skipped, cache: saved.presizeCache, title: title)
        try AtomicFile.write(html, to: url)
        return saved.task.workflow.interpretationLine(p, tta: tta)
            + String(format: " (report written in %.0f s): ", Date().timeIntervalSince(started)) + url.path
    }
}
