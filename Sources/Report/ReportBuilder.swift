import Foundation
import Learn
import Torch
import Vision

/// What a run decided, for the report: the rate it trained with, the epoch whose weights it kept, one-line notes
/// (plan, precision) and the settings it ran with.
public struct RunFacts: Sendable {
    /// The head's learning rate (marked on the LR-finder chart).
    public var learningRate: Double?
    /// Why that rate: "set by --lr", "the finder's min/10, kept within …".
    public var learningRateReason: String?
    /// Index into the recorder's epochs of the epoch whose weights were kept.
    public var bestEpoch: Int?
    /// What chose the best epoch ("valid_loss"…).
    public var monitor: String?
    /// Lines shown under the summary.
    public var notes: [String]
    /// The run's settings and machine, as (name, value) rows.
    public var settings: [(String, String)]

    public init(
        learningRate: Double? = nil, bestEpoch: Int? = nil, monitor: String? = nil, notes: [String] = [],
        settings: [(String, String)] = []
    ) {
        (self.learningRate, self.bestEpoch, self.monitor, self.notes) = (learningRate, bestEpoch, monitor, notes)
        self.settings = settings
    }
}

/// Builds the self-contained HTML pages: the training report, `interpret`'s error analysis, `explore`'s data
/// page and `lr-find`'s chart. Sections live in their own files; ``ReportPage`` holds the page and pictures.
public enum ReportBuilder {
    /// The full report of a training run.
    public static func training(
        dataset: ImageDataset, validSet: ImageDataset, recorder: Recorder, lrFinder: LRFinderResult?,
        evaluation: EvaluationInput, heldOut: EvaluationInput? = nil, times: PhaseTimes, problems: [DataProblem],
        cache: PresizeCache?, title: String, run: RunFacts = RunFacts(), augmentation: [(String, [RGBImage])] = [],
        unknown: UnknownFacts? = nil
    ) throws -> String {
        // The held-out score leads when there is one: it is the figure to expect on new photos.
        var sections = [try summary([heldOut, evaluation].compactMap { $0 }, times: times, run: run)]
        sections.append(DatasetSection.html(dataset, validSet: validSet, cache: cache))
        if !augmentation.isEmpty { sections.append(DatasetSection.augmentationPreview(augmentation)) }
        if let lrFinder {
            sections.append(TrainingSection.lrFinder(lrFinder, used: run.learningRate, reason: run.learningRateReason))
        }
        sections.append(TrainingSection.html(recorder, best: run.bestEpoch, monitor: run.monitor))
        for input in [heldOut, evaluation].compactMap({ $0 }) {
            sections.append(
                input.truth == nil
                    ? try EvaluationSection.html(input, cache: cache) : LabelsSection.html(input, cache: cache))
        }
        if let unknown { sections.append(UnknownSection.html(unknown)) }
        sections.append(problemsSection(problems))
        return ReportPage.page(title: title, sections: sections)
    }

    /// The error-analysis report of a model on a labelled folder (`quadrat interpret`).
    public static func interpretation(
        _ evaluation: EvaluationInput, problems: [DataProblem], cache: PresizeCache?, title: String,
        run: RunFacts = RunFacts()
    ) throws -> String {
        ReportPage.page(
            title: title,
            sections: [
                try summary([evaluation], times: nil, run: run), try EvaluationSection.html(evaluation, cache: cache),
                problemsSection(problems),
            ])
    }

    /// The data-set page of `quadrat explore`.
    public static func exploration(
        _ dataset: ImageDataset, test: ImageDataset? = nil, testLabelled: Bool = false,
        brightness: BrightnessSummary? = nil, augmentation: [(String, [RGBImage])] = [],
        duplicates: DuplicateListing? = nil, cache: PresizeCache? = nil, title: String
    ) -> String {
        ReportPage.page(
            title: title,
            sections: [DatasetSection.html(dataset, validSet: nil, test: test, testLabelled: testLabelled, cache: nil)]
                + (brightness.map { [DatasetSection.brightness($0, classes: dataset.classes)] } ?? [])
                + (duplicates.map { [DuplicatesSection.html($0, classes: dataset.classes, cache: cache)] } ?? [])
                + (augmentation.isEmpty ? [] : [DatasetSection.augmentationPreview(augmentation)]))
    }

    /// The LR-finder plot of `quadrat lr-find`.
    public static func lrFinderPage(_ result: LRFinderResult, title: String) -> String {
        ReportPage.page(title: title, sections: [TrainingSection.lrFinder(result)])
    }

    /// The headline: for each scored set (the first leads), the accuracy of the decisions with its 95 % Wilson
    /// interval, ROC AUC and log loss, and what the set is; then how decisions are made, the majority-class
    /// baseline, the phase times, notes and settings.
    static func summary(_ evaluations: [EvaluationInput], times: PhaseTimes?, run: RunFacts) throws -> String {
        var html = "<section id='summary'><h2>Summary</h2>"
        for (k, evaluation) in evaluations.enumerated() {
            html +=
                evaluation.truth == nil
                ? try scoreLines(evaluation, leads: k == 0, others: evaluations.map(\.set))
                : LabelsSection.scoreLine(evaluation, title: title(of: evaluation.set), leads: k == 0)
        }
        if let lead = evaluations.first, lead.truth == nil { html += try decisionAndBaseline(lead) }
        html += run.notes.map { "<p class='note'>\(escape($0))</p>" }.joined()
        html += "<div class='tables'>"
        if let times {
            html += ReportPage.table(
                ["phase", "seconds"], times.order.map { [$0, String(format: "%.0f", times.phases[$0] ?? 0)] })
        }
        if !run.settings.isEmpty { html += ReportPage.table(["setting", "value"], run.settings.map { [$0.0, $0.1] }) }
        return html + "</div></section>"
    }

    /// One set's figures and what they mean: "Held-out test (…): accuracy 88.4 % (95 % interval …) · ROC AUC …".
    static func scoreLines(_ evaluation: EvaluationInput, leads: Bool, others: [EvaluatedSet]) throws -> String {
        let labels = try evaluation.items.labels()
        let p = evaluation.probabilities, n = labels.count
        let correct = evaluation.items.indices.filter { evaluation.decided($0) == labels[$0] }.count
        let interval = Metrics.wilsonInterval(successes: correct, of: n)
        var line = "<b>\(escape(title(of: evaluation.set)))</b>: "
        line += String(
            format: "accuracy <b>%.1f%%</b> (95%% interval %.1f–%.1f%%)", 100 * Double(correct) / Double(max(1, n)),
            100 * interval.low, 100 * interval.high)
        if evaluation.classes.count >= 2 {
            line += String(format: " · ROC AUC <b>%.4f</b>", Metrics.rocAUC(probabilities: p, labels: labels))
            line += String(format: " · log loss %.4f", Metrics.logLoss(probabilities: p, labels: labels))
        }
        line += " on \(n) photos"
        var meaning = self.meaning(of: evaluation.set, heldOutShown: others.contains { $0 != evaluation.set })
        if n < 200 {
            meaning += String(
                format: " With %d photos the interval spans %.0f points: smaller differences are noise.", n,
                100 * (interval.high - interval.low))
        }
        return "<p class='\(leads ? "big" : "second")'>\(line)</p><p class='note'>\(escape(meaning))</p>"
    }

    static func title(of set: EvaluatedSet) -> String {
        switch set {
        case .validation: return "Validation"
        case .heldOut(let name): return "Held-out test (\(name))"
        case .labelled: return "These photos"
        }
    }

    /// How far to trust a set's figure.
    static func meaning(of set: EvaluatedSet, heldOutShown: Bool) -> String {
        switch set {
        case .heldOut:
            return "Photos no choice of the run saw (not the epoch kept, not the calibration): the figure to expect "
                + "on new photos like these."
        case .validation:
            return "Validation photos also chose the epoch kept and fitted the calibration, so this figure may "
                + "flatter the model a little."
                + (heldOutShown
                    ? "" : " For an unbiased one, put labelled photos in test/ with test_labels.csv beside it.")
        case .labelled:
            return "Photos given to interpret: if the model trained on them or chose anything with them, the "
                + "figure flatters it."
        }
    }

    /// How decisions are made (binary models: the threshold, and what the more probable class would score when the
    /// threshold serves another goal), then the majority-class baseline.
    static func decisionAndBaseline(_ evaluation: EvaluationInput) throws -> String {
        let labels = try evaluation.items.labels()
        let p = evaluation.probabilities, n = labels.count, classes = evaluation.classes
        var html = "<p class='note'>"
        if let calibration = evaluation.calibration, let threshold = calibration.threshold, classes.count == 2 {
            html +=
                "Accuracy counts the decisions as predict writes them: \(escape(classes[1])) when its calibrated "
                + "probability is at least \(Calibration.thresholdText(threshold)) "
                + "(\(escape(calibration.ruleDescription))). "
            if calibration.thresholdRule != "accuracy" {
                html += String(
                    format: "Taking the more probable class instead would score %.1f%%. ",
                    100 * Metrics.accuracy(probabilities: p, labels: labels))
            }
        }
        var counts = [Int](repeating: 0, count: classes.count)
        for l in labels where l < counts.count { counts[l] += 1 }
        let majority = counts.indices.max { counts[$0] < counts[$1] } ?? 0
        html +=
            "Baseline: always answering the most common class, \(escape(classes[majority])), would be "
            + String(format: "right %.1f%% of the time.", 100 * Double(counts[majority]) / Double(max(1, n)))
        return html + "</p>"
    }

    static func problemsSection(_ problems: [DataProblem]) -> String {
        guard !problems.isEmpty else {
            return "<section id='problems'><h2>Skipped inputs</h2><p>None: every image was used.</p></section>"
        }
        return "<section id='problems'><h2>Skipped inputs</h2><p>\(problems.count) input(s) were left out:</p><ul>"
            + problems.prefix(200).map { "<li>\(escape($0.description))</li>" }.joined() + "</ul></section>"
    }
}
