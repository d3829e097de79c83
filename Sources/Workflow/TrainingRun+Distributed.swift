import Foundation
import Learn
import Torch
import Vision

/// What rank 0 decides for every rank of a data-parallel run before training (and what a single process
/// decides for itself): the recipe as planned, with its precision, and the figures the output quotes.
struct RunDecisions: Codable {
    var recipe: Recipe
    var plan: TrainingPlan
    /// The precision line ("training fp32 (fp32 …)"), for the terminal and the report.
    var precision: String
    /// bf16 inference measured faster under `--precision auto`: the run compares it with fp32 on validation after
    /// training and keeps it for TTA (and the model's later predictions) only when the two agree.
    var bf16InferenceCandidate: Bool
    /// Seconds kept free after the last epoch for TTA and the report, under a time budget.
    var tailSeconds: Double
    /// Seconds an unfrozen epoch should take by the stored machine profile (nil: measured in this run).
    var expectedEpochSeconds: Double?
    /// Seconds an unfrozen epoch, and TTA (validation and held-out test), should take by the profile the plan used.
    var plannedEpochSeconds = 0.0, plannedTTASeconds = 0.0
    /// When the plan expects the run to end (set by each rank after sharing: clocks differ between machines).
    var plannedEnd: Date?

    enum CodingKeys: String, CodingKey {
        case recipe, plan, precision, bf16InferenceCandidate, tailSeconds, expectedEpochSeconds, plannedEpochSeconds
        case plannedTTASeconds
    }
}

/// The parts of ``TrainingRun`` that differ when it is one rank of a data-parallel group.
extension TrainingRun {
    /// Fills the presize cache; in a group each rank first fills its share of the images (every world-size-th),
    /// then, after all have, whatever its machine still lacks (another machine's share).
    func presize(_ items: [ImageItem], into cache: PresizeCache) throws -> [DataProblem] {
        guard let group else { return cache.fill(items) }
        let mine = items.indices.filter { $0 % group.worldSize == group.rank }.map { items[$0] }
        var problems = cache.fill(mine)
        try group.barrier()
        let seen = Set(problems.map(\.description))
        problems += cache.fill(items).filter { !seen.contains($0.description) }
        return problems
    }

    /// The LR finder of a data-parallel run: the ranks precompute the training features together (each its
    /// part, joined), rank 0 runs the range test on them and shares its result.
    func findRateTogether(
        _ classifier: Classifier, _ loader: DataLoader, cacheKey: String, mixedPrecision: Bool, group: ProcessGroup
    ) throws -> LRFinderResult {
        let features = try classifier.precompute(
            loader, cacheKey: cacheKey, label: "precompute train", mixedPrecision: mixedPrecision, group: group)
        let result =
            group.rank == 0
            ? try classifier.findHeadLearningRate(
                features: features.features, labels: features.labels, seed: options.seed, task: options.task.task)
            : nil
        return try group.share(result)
    }

    /// A checkpoint of a data-parallel run resumes only with as many ranks: the data order, the batch parts and
    /// the augmentation streams depend on it.
    static func checkWorldSize(of file: String, metadata: [String: String], group: ProcessGroup?) throws {
        let saved = metadata["world_size"].flatMap(Int.init) ?? 1
        let now = group?.worldSize ?? 1
        guard saved == now else {
            throw WorkflowError(
                "\(file) was saved by a run of \(saved) process(es); resume it with \(saved), not \(now)"
                    + (saved > 1 ? " (quadrat launch -n \(saved) -- train … --resume \(file))" : ""))
        }
    }

    /// What a rank other than 0 reports when its part is done: the last epoch's validation figures (rank 0
    /// scores with TTA and writes the run folder).
    static func outcomeOfOtherRank(_ learner: Learner, out: URL, times: PhaseTimes) throws -> TrainingOutcome {
        let last = learner.recorder.epochs.last
        func metric(_ name: String) -> Double { last?.metrics.first { $0.0 == name }?.1 ?? .nan }
        return TrainingOutcome(
            validAccuracy: metric("accuracy"), validAUC: metric("roc_auc"), times: times,
            modelURL: out.appendingPathComponent("model.safetensors"),
            reportURL: out.appendingPathComponent("report.html"))
    }
}
