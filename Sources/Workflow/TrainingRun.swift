import Foundation
import Learn
import NN
import Report
import Torch
import Vision

/// What a training run produced.
public struct TrainingOutcome: Sendable {
    /// Validation accuracy of the decisions (at the calibrated threshold), with TTA when the run used it.
    public var validAccuracy: Double
    public var validAUC: Double
    public var times: PhaseTimes
    public var modelURL: URL
    public var reportURL: URL
    /// The labelled test set's score, when the run had one (nil on ranks other than 0).
    public var heldOut: SetScore?
}

/// Where a run finds the labelled photos it scores after training and never uses for any choice.
public enum HeldOutChoice: Sendable {
    /// `test/` with `test_labels.csv` beside it in the data folder, when there is one.
    case besideData
    /// These photos, described by `name` ("answers/test_labels.csv").
    case given(ImageDataset, name: String)
    /// None (cross-validation folds).
    case none
}

/// The whole `train` workflow, in stages: data (split, presize, loaders) → model and learner → plan (machine
/// profile, precision, epochs) → rates → fit (callbacks, resume, the best epoch kept) → score (TTA, calibration,
/// held-out test) → the run folder (model, history, predictions, config, report).
public struct TrainingRun {
    public var options: TrainOptions
    /// The command that resumes this run after Ctrl-C, printed with the checkpoint (default: this
    /// process's command line plus `--resume`).
    public var resumeHint: String?
    /// Data-parallel training: this process is one rank of the group (see ``DataParallel``). Every rank runs
    /// this same workflow on the same data; rank 0 takes the decisions (precision, plan, learning rate) and
    /// alone writes the run folder.
    public var group: ProcessGroup?
    /// The validation images, by position in the data set, instead of a random `validFraction` (cross-validation
    /// gives each fold's).
    public var validation: [Int]?
    /// The labelled test photos scored after training.
    public var heldOut = HeldOutChoice.besideData

    public init(options: TrainOptions, resumeHint: String? = nil, group: ProcessGroup? = nil) {
        self.options = options
        self.resumeHint = resumeHint
        self.group = group
    }

    var leads: Bool { (group?.rank ?? 0) == 0 }

    public func run() throws -> TrainingOutcome { try runStages().outcome }

    /// The stages in order. Also returns the validation scores (nil on ranks other than 0) for a caller that
    /// combines runs: cross-validation's out-of-fold predictions.
    func runStages() throws -> (outcome: TrainingOutcome, scores: RunScores?) {
        try options.validate()
        let start = Date()
        Torch.useAllCores()
        Torch.manualSeed(options.seed)
        let data = try loadData()
        let (classifier, learner) = try makeLearner(data)
        let decided = try decide(data, learner: learner, start: start)
        // The probe drew random numbers: start the run from the same generator state whether it ran or not.
        Torch.manualSeed(options.seed)
        var recipe = decided.recipe
        var times = PhaseTimes()
        let lrFinder = try chooseRates(
            &recipe, classifier: classifier, trainLoader: data.trainLoader, featureKey: data.featureKey, times: &times)
        learner.checkpointMetadata[Self.ratesKey] = String(
            decoding: try JSONEncoder().encode(Rates(head: recipe.headRate, unfrozen: recipe.unfrozenRates)),
            as: UTF8.self)
        let fitted = try fit(
            data, classifier: classifier, learner: learner, recipe: recipe, decided: decided, start: start,
            times: &times)
        // The other ranks are done: rank 0 scores, calibrates and writes the run folder with all this machine's cores.
        guard leads else { return (try Self.outcomeOfOtherRank(learner, out: data.out, times: times), nil) }
        if group != nil {
            (data.trainLoader.shard, data.validLoader.shard, learner.predictionGroup) = (nil, nil, nil)
            Torch.threads = ProcessInfo.processInfo.activeProcessorCount
        }
        // The weights are final: validation and the held-out test run as a model read back to predict runs them
        // (through oneDNN directly where it can), faster than ATen's path, and scored as `evaluate` would score them.
        let scores = try Classifier.evaluatingThroughOneDNN(learner.model) {
            try score(data, learner: learner, recipe: &recipe, decided: decided, times: &times)
        }
        learnFromRun(learner, decided: decided, data: data, times: times)
        let outcome = try writeRunFolder(
            data, learner: learner, recipe: recipe, decided: decided, scores: scores, lrFinder: lrFinder,
            bestEpoch: fitted.bestEpoch, start: start, times: times)
        return (outcome, scores)
    }

    /// "14:05" for a date today.
    static func clockTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "HH:mm"
        return formatter.string(from: date)
    }

    /// Lists problems with the data as warnings (the first 20).
    func report(problems: [DataProblem], skipped: Bool = false) {
        guard !problems.isEmpty else { return }
        Feedback.warn("\(problems.count) \(skipped ? "image(s) skipped" : "problem(s) in the data, left out"):")
        for p in problems.prefix(20) { Feedback.warn("  \(p)") }
        if problems.count > 20 { Feedback.warn("  … and \(problems.count - 20) more (run `quadrat check`)") }
    }
}
