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
    /// goes on at the rates it started with), else `--lr`, else the LR finder's suggestion; the unfrozen phase's rates
    /// follow the head's share for the body (``ClassificationTask/bodyRateShare``). Returns the finder's
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
            if let rate = options.lr.given ?? lrFinder.map({ Self.headRate(suggested: $0.minimum) }) {
                recipe.headRate = rate
                recipe.unfrozenRates = recipe.unfrozenRates(forHeadRate: rate * options.task.task.bodyRateShare)
            }
        }
        Feedback.log(
            String(
                format: "rates: head %.2e; unfrozen %@", recipe.headRate,
                recipe.unfrozenRates.map { String(format: "%.1e", $0) }.joined(separator: ", ")))
        return lrFinder
    }

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
