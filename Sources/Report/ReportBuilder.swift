import Foundation
import Learn
import Torch
import Vision

/// What a run decided, for the report: the rate it trained with, the epoch whose weights it kept, one-line notes
/// (plan, precision) and the settings it ran with.
public struct RunFacts: Sendable {
    /// The head's learning rate (marked on the LR-finder chart).
    public var learningRate: Double?
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
        evaluation: EvaluationInput, times: PhaseTimes, problems: [DataProblem], cache: PresizeCache?, title: String,
        run: RunFacts = RunFacts(), augmentation: [(String, [RGBImage])] = []
    ) throws -> String {
        var sections = [try summary(evaluation, times: times, run: run)]
        sections.append(DatasetSection.html(dataset, validSet: validSet, cache: cache))
        if !augmentation.isEmpty { sections.append(DatasetSection.augmentationPreview(augmentation)) }
        if let lrFinder { sections.append(TrainingSection.lrFinder(lrFinder, used: run.learningRate)) }
        sections.append(TrainingSection.html(recorder, best: run.bestEpoch, monitor: run.monitor))
        sections.append(try EvaluationSection.html(evaluation, cache: cache))
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
                try summary(evaluation, times: nil, run: run), try EvaluationSection.html(evaluation, cache: cache),
                problemsSection(problems),
            ])
    }

    /// The data-set page of `quadrat explore`.
    public static func exploration(
        _ dataset: ImageDataset, test: ImageDataset? = nil, brightness: BrightnessSummary? = nil,
        augmentation: [(String, [RGBImage])] = [], title: String
    ) -> String {
        ReportPage.page(
            title: title,
            sections: [DatasetSection.html(dataset, validSet: nil, test: test, cache: nil)]
                + (brightness.map { [DatasetSection.brightness($0, classes: dataset.classes)] } ?? [])
                + (augmentation.isEmpty ? [] : [DatasetSection.augmentationPreview(augmentation)]))
    }

    /// The LR-finder plot of `quadrat lr-find`.
    public static func lrFinderPage(_ result: LRFinderResult, title: String) -> String {
        ReportPage.page(title: title, sections: [TrainingSection.lrFinder(result)])
    }

    /// The headline: accuracy with its 95 % Wilson interval against the majority-class baseline, ROC AUC, log
    /// loss; then the phase times, notes and settings.
    static func summary(_ evaluation: EvaluationInput, times: PhaseTimes?, run: RunFacts) throws -> String {
        let labels = try evaluation.items.labels()
        let p = evaluation.probabilities, n = labels.count, classes = evaluation.classes
        let correct = zip(p, labels).filter { Metrics.argmax($0.0) == $0.1 }.count
        let interval = Metrics.wilsonInterval(successes: correct, of: n)
        var counts = [Int](repeating: 0, count: classes.count)
        for l in labels where l < counts.count { counts[l] += 1 }
        let majority = counts.indices.max { counts[$0] < counts[$1] } ?? 0
        var html =
            "<section id='summary'><h2>Summary</h2><p class='big'>"
            + String(
                format: "accuracy <b>%.1f%%</b> (95%% interval %.1f–%.1f%%)", 100 * Double(correct) / Double(max(1, n)),
                100 * interval.low, 100 * interval.high)
        if classes.count >= 2 {
            html += String(format: " · ROC AUC <b>%.4f</b>", Metrics.rocAUC(probabilities: p, labels: labels))
            html += String(format: " · log loss %.4f", Metrics.logLoss(probabilities: p, labels: labels))
        }
        html += " on \(n) images</p>"
        html +=
            "<p class='note'>Baseline: always answering the most common class, \(escape(classes[majority])), would be "
            + String(format: "right %.1f%% of the time.", 100 * Double(counts[majority]) / Double(max(1, n)))
        if let threshold = evaluation.calibration?.threshold, classes.count == 2 {
            let decided = zip(p, labels).filter { ($0.0[1] >= threshold ? 1 : 0) == $0.1 }.count
            html += String(
                format: " At the chosen threshold %.3f the accuracy is %.1f%%.", threshold,
                100 * Double(decided) / Double(max(1, n)))
        }
        html += "</p>" + run.notes.map { "<p class='note'>\(escape($0))</p>" }.joined()
        html += "<div class='tables'>"
        if let times {
            html += ReportPage.table(
                ["phase", "seconds"], times.order.map { [$0, String(format: "%.0f", times.phases[$0] ?? 0)] })
        }
        if !run.settings.isEmpty { html += ReportPage.table(["setting", "value"], run.settings.map { [$0.0, $0.1] }) }
        return html + "</div></section>"
    }

    static func problemsSection(_ problems: [DataProblem]) -> String {
        guard !problems.isEmpty else {
            return "<section id='problems'><h2>Skipped inputs</h2><p>None: every image was used.</p></section>"
        }
        return "<section id='problems'><h2>Skipped inputs</h2><p>\(problems.count) input(s) were left out:</p><ul>"
            + problems.prefix(200).map { "<li>\(escape($0.description))</li>" }.joined() + "</ul></section>"
    }
}
