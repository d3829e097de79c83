import Foundation
import Learn
import Vision

extension TrainingRun {
    /// The head's rate and the unfrozen phase's rates, as a checkpoint records them (metadata key ``ratesKey``).
    struct Rates: Codable {
        var head: Double
        var unfrozen: [Double]
    }

    /// Where a checkpoint keeps the rates its run trained with.
    static let ratesKey = "rates"

    /// Sets the recipe's rates: a resumed run's from its checkpoint (the LR finder does not run again, and the run
    /// goes on at the rates it started with), else `--lr`, else the LR finder's suggestion
    /// (``rates(given:suggested:recipe:bodyShare:)``). Returns the finder's
    /// result for the report (nil when it did not run).
    func chooseRates(
        _ recipe: inout Recipe, classifier: Classifier, trainLoader: DataLoader, featureKey: String,
        times: inout PhaseTimes
    ) throws -> LRFinderResult? {
        var lrFinder: LRFinderResult?
        if let resume = options.resume, let rates = try Self.rates(inCheckpoint: URL(fileURLWithPath: resume)) {
            (recipe.headRate, recipe.unfrozenRates) = (rates.head, rates.unfrozen)
            Feedback.log("rates from the checkpoint (no LR finder when resuming):")
        } else {
            if options.lrFind {
                lrFinder = try times.time("lr-find") {
                    guard let group else {
                        return try classifier.findHeadLearningRate(
                            trainLoader, cacheKey: featureKey + "-train",
                            mixedPrecision: recipe.inferenceMixedPrecision, seed: options.seed,
                            task: options.task.task)
                    }
                    return try findRateTogether(
                        classifier, trainLoader, cacheKey: featureKey + "-train",
                        mixedPrecision: recipe.inferenceMixedPrecision, group: group)
                }
                if let lrFinder {
                    Feedback.log(
                        String(
                            format: "lr-find: minimum/10 %.2e, valley %.2e, steepest %.2e", lrFinder.minimum,
                            lrFinder.valley, lrFinder.steepest))
                }
            }
            if let rates = Self.rates(
                given: options.lr.given, suggested: lrFinder?.minimum, recipe: recipe,
                bodyShare: options.task.task.bodyRateShare)
            {
                (recipe.headRate, recipe.unfrozenRates) = (rates.head, rates.unfrozen)
            }
        }
        Feedback.log(
            String(
                format: "rates: head %.2e; unfrozen %@", recipe.headRate,
                recipe.unfrozenRates.map { String(format: "%.1e", $0) }.joined(separator: ", ")))
        return lrFinder
    }

    /// The head's rate and the unfrozen phase's: `--lr` as given (`given`), else from the LR finder's suggestion (a
    /// tenth of the lowest loss's rate, ``headRate(suggested:)``), the unfrozen rates following its share for the body
    /// (`bodyShare`, the task's ``ClassificationTask/bodyRateShare``) up to ``unfrozenBasisLimit``; nil with neither
    /// (the recipe's own rates stand).
    static func rates(given: Double?, suggested: Double?, recipe: Recipe, bodyShare: Double) -> Rates? {
        if let given { return Rates(head: given, unfrozen: recipe.unfrozenRates(forHeadRate: given * bodyShare)) }
        guard let suggested else { return nil }
        let head = headRate(suggested: suggested)
        return Rates(head: head, unfrozen: recipe.unfrozenRates(forHeadRate: min(head * bodyShare, unfrozenBasisLimit)))
    }

    /// The highest rate from the LR finder (its head rate times the body's share) that the unfrozen phase's rates
    /// follow. The finder measures the head alone, and its suggestion moves with the seed's batches: on ELPV (AMD EPYC
    /// Zen 4, the demo's split) 3.8e-3 with seed 42 and 5.5e-3 with seed 7. At the second the body's rates (9.1e-5 late
    /// body, 5.5e-4 head) threw the model about at the cosine's peak (validation loss 0.36 → 0.55, kept epoch: the
    /// second unfrozen one; held-out 84.6 %), where the same seed at 3.8e-3 trained steadily (best validation loss
    /// 0.310 against 0.349; held-out 88.0 %).
    static let unfrozenBasisLimit = 4e-3

    /// The rates a checkpoint's run trained with; nil for checkpoints from before they were recorded.
    static func rates(inCheckpoint url: URL) throws -> Rates? {
        let (_, metadata) = try Learner.readCheckpoint(url)
        guard let text = metadata[ratesKey] else { return nil }
        do {
            return try JSONDecoder().decode(Rates.self, from: Data(text.utf8))
        } catch {
            throw WorkflowError("\(url.path): its '\(ratesKey)' entry cannot be read: \(error)")
        }
    }
}
